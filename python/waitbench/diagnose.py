# SPDX-License-Identifier: Apache-2.0
"""Watch GPUs and say, per GPU, whether "busy" is work or waiting, who holds it, and which rank is late.

Steps kept apart so each can be reused and tested alone: :func:`windows` samples (the only step that
needs NVML; it also reads each process's command line and per-process utilization), the optional
probe (``waitbench.probe``, a child process per GPU), :func:`judge` turns one window per GPU into a
:class:`Refresh` (verdict rows, the holder of each GPU, the probe folded in, the late rank; pure: it
runs on recorded windows, on any machine), and diagnose_render.py shows it. ``diagnose --replay``
skips the sampling; ``--watch`` and ``--serve`` repeat it until stopped.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Iterable, Literal, Sequence

from . import processes as procs
from .diagnose_render import render_notes, render_refresh, render_table, rows_to_json
from .errors import invalid
from .late_rank import LateRank, late_rank
from .telemetry import nvml
from .telemetry.gpm import GPM_FIELDS, PIPE_FIELDS
from .telemetry.recording import RecordingWriter
from .telemetry.sampler import DEFAULT_PERIOD_S, Sampler
from .telemetry.summary import WindowSummary
from .telemetry.verdict import classify

__all__ = ["VerdictRow", "Refresh", "verdict_rows", "judge", "windows", "watch", "diagnose", "live_refreshes",
           "replay_refreshes", "parse_gpus", "render_table", "render_notes", "render_refresh", "rows_to_json"]

DEFAULT_SECONDS = 3.0
GPM_IGNORED = "GPM ignored on request, --ignore-gpm"
HINTS = {
    "busy-waiting": "a resident kernel is waiting; if this is NCCL, a host barrier before the collective frees the GPU",
    "unknown": "the counters cannot tell waiting from work here; see the reason for what is missing",
    "shared": "several processes use this GPU; the counters cannot say whose work they show",
}


@dataclass
class VerdictRow:
    """What one GPU did in one window, in the terms a user asks about."""

    gpu: str  # how the GPU was named: CUDA index, 'nvml:N', or UUID
    uuid: str
    name: str
    verdict: str
    reason: str
    hint: str | None
    window_s: float
    nvml_util_pct: float | None
    gpm_sm_util_pct: float | None
    gpm_sm_occupancy_pct: float | None
    pipes_pct: dict[str, float | None]
    gpm_dram_bw_util_pct: float | None
    power_w: float | None
    power_idle_w: float | None
    power_delta_w: float | None
    processes: list[dict[str, Any]]
    warnings: list[str]
    inputs: dict[str, Any] = field(default_factory=dict)
    summary: WindowSummary | None = None
    holder: dict[str, Any] | None = None  # {"pid": int | None, "how": str}: who holds the resident kernel
    probe: dict[str, Any] | None = None  # a ProbeReading as a dict, where --probe ran
    disagreement: str | None = None  # where probe and counters tell different stories
    likely_late: bool | None = None  # this GPU looks like the late rank of its host (None: nothing inferred)
    late_rank: str | None = None  # the host's late-rank finding, the same line on every row of a refresh
    refresh: int | None = None  # which window of a --watch/--record session
    label: str | None = None  # a recorded window's scenario, shown on replay
    confidence: str = "high"  # how sure the verdict is: high (GPM, or a free probe), medium, low
    signals: tuple[str, ...] = ()  # the counters that decided it

    @property
    def busiest_pipe(self) -> tuple[str | None, float | None]:
        known = {k: v for k, v in self.pipes_pct.items() if v is not None}
        if not known:
            return None, None
        top = max(known, key=lambda k: known[k])
        return top, known[top]

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "summary"}
        d["null_reasons"] = dict(self.summary.null_reasons) if self.summary else {}
        return d


def _label(s: WindowSummary) -> str:
    if s.index is not None:
        return str(s.index)
    return f"nvml:{s.nvml_index}" if s.nvml_index is not None and s.nvml_index >= 0 else s.uuid


def without_gpm(s: WindowSummary, reason: str = GPM_IGNORED) -> WindowSummary:
    """A copy of ``s`` with every GPM metric None (with ``reason``): as a GPU without GPM reads."""
    out = dataclasses.replace(s, null_reasons=dict(s.null_reasons))
    for f in GPM_FIELDS:
        out.null(f, reason)
    return out


def _outside_verdict(s: WindowSummary, base: WindowSummary | None) -> tuple[Any, dict[str, Any]]:
    """The verdict from outside, and the holder; a ``shared`` GPU whose holder NVML names is judged on it."""
    holder = procs.name_holder(s.processes, s.null_reasons)
    v = classify(s, base, observer="outside")
    if v.verdict == "shared" and holder.pid is not None:
        alone = dataclasses.replace(s, processes=[p for p in s.processes if p["pid"] == holder.pid])
        inner = classify(alone, base, observer="outside")
        v = dataclasses.replace(inner, reason=f"{len(s.processes)} processes, but only pid {holder.pid} had kernels "
                                              f"resident ({holder.how}); {inner.reason}")
    return v, holder.to_dict()


def verdict_rows(summaries: Iterable[WindowSummary], idle: dict[str, WindowSummary] | None = None, *,
                 observer: Literal["inside", "outside"] = "outside", ignore_gpm: bool = False) -> list[VerdictRow]:
    """One verdict row per window summary (``idle``: baseline windows keyed by UUID, optional).

    ``observer="outside"`` (diagnose) also names the process holding each GPU's resident kernel;
    ``ignore_gpm`` judges as if the GPU had no GPM (so that the probe decides, or to compare).
    """
    rows = []
    for s in summaries:
        if ignore_gpm:
            s = without_gpm(s)
        base = (idle or {}).get(s.uuid)
        if observer == "outside":
            v, holder = _outside_verdict(s, base)
        else:
            v, holder = classify(s, base, observer=observer), None
        rows.append(VerdictRow(
            gpu=_label(s), uuid=s.uuid, name=s.name, verdict=v.verdict, reason=v.reason, hint=HINTS.get(v.verdict),
            window_s=s.window_s, nvml_util_pct=s.nvml_util_pct, gpm_sm_util_pct=s.gpm_sm_util_pct,
            gpm_sm_occupancy_pct=s.gpm_sm_occupancy_pct, pipes_pct={f: getattr(s, f) for f in PIPE_FIELDS},
            gpm_dram_bw_util_pct=s.gpm_dram_bw_util_pct, power_w=s.power_w,
            power_idle_w=v.inputs.get("power_idle_w"), power_delta_w=v.inputs.get("power_delta_w"),
            processes=list(s.processes), warnings=list(s.warnings), inputs=v.inputs, summary=s, holder=holder,
            confidence=v.confidence, signals=tuple(v.signals)))
    return rows


@dataclass
class Refresh:
    """One window of every watched GPU, judged: the rows and the host's late-rank finding."""

    index: int
    rows: list[VerdictRow]
    late: LateRank | None


def judge(summaries: Sequence[WindowSummary], *, index: int = 0, ignore_gpm: bool = False,
          probes: dict[str, Any] | None = None, idle: dict[str, WindowSummary] | None = None,
          labels: Sequence[str | None] | None = None) -> Refresh:
    """Verdict rows for one window per GPU, with probe readings (by UUID) folded in, and the late rank.

    ``idle``: power baselines by UUID; ``labels``: one per summary, shown beside the GPU (replays).
    """
    from .probe.judge import ProbeReading, apply_probe

    rows = verdict_rows(summaries, idle, ignore_gpm=ignore_gpm)
    for r, label in zip(rows, labels or [None] * len(rows)):
        r.label = label
    for r in rows:
        reading = (probes or {}).get(r.uuid)
        if reading is not None:
            apply_probe(r, reading if isinstance(reading, ProbeReading) else ProbeReading.from_dict(reading))
            r.hint = HINTS.get(r.verdict)
        r.refresh = index
    late = late_rank(rows)
    if late is not None:
        for r in rows:
            r.likely_late, r.late_rank = r.gpu in late.late, late.message
    return Refresh(index, rows, late)


def warm_idle_windows(summaries: Sequence[WindowSummary], driver: str) -> dict[str, WindowSummary]:
    """The power baseline of each GPU, as an idle window: its warm-idle power from the probe's cached baseline
    (measured by ``diagnose --probe`` on an idle GPU), or a GPU's of the same model and driver."""
    from .probe import baseline as bl

    out = {}
    for s in summaries:
        base = bl.find(s.uuid, s.name, driver)
        if base is not None and base.power_warm_idle_w is not None:
            out[s.uuid] = WindowSummary(uuid=s.uuid, index=s.index, name=s.name, window_s=0.0,
                                        power_w=base.power_warm_idle_w, power_limit_w=s.power_limit_w,
                                        start_time_utc=base.measured_utc,
                                        warnings=[f"warm-idle baseline: {base.source}"])
    return out


def parse_gpus(text: str | None) -> list[str] | None:
    """``'0,1'`` (nvidia-smi indices), UUIDs or PCI bus ids, comma-separated -> sampler specs; None = all."""
    if text is None or text.strip().lower() in ("", "all"):
        return None
    specs = []
    for item in (t.strip() for t in text.split(",")):
        spec = f"nvml:{int(item)}" if item.isdigit() else item
        try:
            nvml.parse_spec(spec)
        except ValueError:
            raise invalid("--gpus", text, "comma-separated nvidia-smi indices, UUIDs or PCI bus ids") from None
        specs.append(spec)
    return specs


def _check_seconds(seconds: float) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 1.0 <= seconds <= 3600.0:
        raise invalid("seconds", seconds, "a number of seconds in [1, 3600]")


def windows(gpus: Sequence[int | str] | None = None, seconds: float = DEFAULT_SECONDS, *,
            period_s: float = DEFAULT_PERIOD_S, on_start: Callable[[Sequence[Any]], None] | None = None,
            stop: threading.Event | None = None) -> Generator[list[WindowSummary], None, None]:
    """Back-to-back windows of ``seconds`` on ``gpus`` (all by default) until ``stop`` is set or the caller stops.

    Each summary's processes carry their command line and, where the driver gives it, their SM
    utilization over the window. Short-window warnings go into each summary's ``warnings``.
    """
    _check_seconds(seconds)
    with Sampler(gpus, period_s) as sampler:
        handles = {d.uuid: d.handle for d in sampler.devices}
        if on_start is not None:
            on_start(sampler.devices)
        while stop is None or not stop.is_set():
            since_us = int(time.time() * 1e6)
            sampler.begin()
            if stop is not None:
                stop.wait(seconds)
            else:
                time.sleep(seconds)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                summaries = list(sampler.end().values())
            if stop is not None and stop.is_set():
                return  # a window cut short by the stop is not a window
            for s in summaries:
                procs.enrich(s.processes, s.null_reasons, handle=handles[s.uuid], since_us=since_us)
            yield summaries


def watch(gpus: Sequence[int | str] | None = None, seconds: float = DEFAULT_SECONDS, *,
          period_s: float = DEFAULT_PERIOD_S, record: str | os.PathLike[str] | None = None,
          on_start: Callable[[Sequence[Any]], None] | None = None) -> list[WindowSummary]:
    """Sample the GPUs for one window of ``seconds``; NvmlError (one line) if NVML is absent."""
    gen = windows(gpus, seconds, period_s=period_s, on_start=on_start)
    try:
        summaries = next(gen)
    finally:
        gen.close()
    if record is not None:
        with RecordingWriter(record) as writer:
            for s in summaries:
                writer.window(s, label="diagnose", refresh=0)
    return summaries


def diagnose(gpus: Sequence[int | str] | None = None, seconds: float = DEFAULT_SECONDS, *,
             ignore_gpm: bool = False) -> list[VerdictRow]:
    """Watch ``gpus`` (all by default) for ``seconds`` and return a verdict row per GPU (judged against the
    cached warm-idle baselines where there are some)."""
    summaries = watch(gpus, seconds)
    return judge(summaries, ignore_gpm=ignore_gpm, idle=warm_idle_windows(summaries, _driver())).rows


def _driver() -> str:
    with nvml.session():
        return nvml.driver_version() or "unknown-driver"


def live_refreshes(gpus: Sequence[int | str] | None = None, seconds: float = DEFAULT_SECONDS, *,
                   ignore_gpm: bool = False, probe: bool = False, probe_refresh: bool = False,
                   record: str | os.PathLike[str] | None = None,
                   on_start: Callable[[Sequence[Any]], None] | None = None,
                   stop: threading.Event | None = None) -> Generator[Refresh, None, None]:
    """Judged windows until stopped; with ``probe``, a probe per GPU after each window (never inside one).

    ``probe_refresh`` re-measures the idle baselines at the first window. ``record`` appends every
    window, with its probe reading, as JSON Lines that ``replay_refreshes`` reads back.
    """
    writer = RecordingWriter(record) if record is not None else None
    driver = None
    written: dict[str, float | None] = {}  # the baselines already in the recording
    try:
        for n, summaries in enumerate(windows(gpus, seconds, on_start=on_start, stop=stop)):
            driver = driver or _driver()
            readings: dict[str, Any] = {}
            if probe or probe_refresh:
                from .probe.run import probe_rows

                first = verdict_rows(summaries, ignore_gpm=ignore_gpm, idle=warm_idle_windows(summaries, driver))
                readings = probe_rows(first, driver, refresh=probe_refresh and n == 0)
            idle = warm_idle_windows(summaries, driver)  # after the probe: it may have measured some
            if writer is not None:
                for uuid, base in idle.items():
                    if written.get(uuid) != base.power_w:
                        writer.write("baseline", uuid=uuid, power_w=base.power_w, measured_utc=base.start_time_utc,
                                     source=base.warnings[0])
                        written[uuid] = base.power_w
                for s in summaries:
                    extra = {"probe": readings[s.uuid].to_dict()} if s.uuid in readings else {}
                    writer.window(s, label="diagnose", refresh=n, **extra)
            yield judge(summaries, index=n, ignore_gpm=ignore_gpm, probes=readings, idle=idle)
    finally:
        if writer is not None:
            writer.close()


def recorded_baselines(path: str | os.PathLike[str]) -> dict[str, WindowSummary]:
    """The warm-idle baselines a recorded session was judged against (its ``baseline`` lines), as idle windows."""
    from .diagnose_replay import warm_idle_window
    from .telemetry.recording import iter_entries

    windows: dict[str, WindowSummary] = {}
    lines: dict[str, dict[str, Any]] = {}
    for kind, item in iter_entries(path):
        if kind == "baseline":
            lines[item["uuid"]] = item
        else:
            windows.setdefault(item[0].uuid, item[0])
    return {u: warm_idle_window(windows[u], line) for u, line in lines.items() if u in windows}


def replay_refreshes(path: str | os.PathLike[str], *, ignore_gpm: bool = False) -> list[Refresh]:
    """The refreshes of a recording, judged again (with today's thresholds); ResultsError if unreadable.

    Every refresh at once: ``waitbench.diagnose_replay.iter_refreshes`` streams them (how they are
    grouped and which power baseline each window gets is said there).
    """
    from .diagnose_replay import iter_refreshes

    return list(iter_refreshes(path, ignore_gpm=ignore_gpm))
