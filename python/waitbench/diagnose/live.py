# SPDX-License-Identifier: Apache-2.0
"""Watching live GPUs: back-to-back telemetry windows, judged one refresh at a time.

:func:`windows` samples (the only step that needs NVML; it also reads each process's command line
and per-process utilization), the optional probe (``waitbench.diagnose.probe``, a child process per
GPU) runs after a window, never inside one, and :func:`~waitbench.diagnose.refresh.judge` turns
the window into a refresh. ``--watch`` and ``--serve`` repeat it until stopped; ``--record`` keeps
every window for ``--replay`` (:mod:`waitbench.diagnose.replay`).
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable, Generator, Sequence
from typing import Any

from ..errors import invalid
from ..profiler.library import DEFAULT_DIR
from ..telemetry import nvml
from ..telemetry.gpu_names import nvml_spec
from ..telemetry.recording import RecordingWriter
from ..telemetry.sampler import DEFAULT_PERIOD_S, Sampler
from ..telemetry.summary import WindowSummary
from . import processes as procs
from .probe.run import probe_rows
from .profiled import ProfiledJobs
from .refresh import Refresh, judge, warm_idle_windows
from .rows import VerdictRow, verdict_rows

DEFAULT_SECONDS = 3.0
SECONDS_MIN, SECONDS_MAX = 1.0, 3600.0  # a window: five driver periods at least; an hour at most


def parse_gpus(text: str | None) -> list[str] | None:
    """``'0,1'`` (nvidia-smi indices), UUIDs or PCI bus ids, comma-separated -> sampler specs; None = all."""
    if text is None or text.strip().lower() in ("", "all"):
        return None
    try:
        return [nvml_spec(item) for item in text.split(",")]
    except ValueError:
        raise invalid("--gpus", text, "comma-separated nvidia-smi indices (NVML order), UUIDs or PCI bus ids") from None


def _check_seconds(seconds: float) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not SECONDS_MIN <= seconds <= SECONDS_MAX:
        raise invalid("seconds", seconds, f"a number of seconds in [{SECONDS_MIN:g}, {SECONDS_MAX:g}]")


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
    """Watch ``gpus`` (all by default) for ``seconds`` and return a verdict row per GPU.

    Each GPU is judged against its cached warm-idle baseline where there is one.
    """
    summaries = watch(gpus, seconds)
    return judge(summaries, ignore_gpm=ignore_gpm, idle=warm_idle_windows(summaries, _driver())).rows


def _driver() -> str:
    with nvml.session():
        return nvml.driver_version() or "unknown-driver"


def live_refreshes(gpus: Sequence[int | str] | None = None, seconds: float = DEFAULT_SECONDS, *,
                   ignore_gpm: bool = False, probe: bool = False, probe_refresh: bool = False,
                   record: str | os.PathLike[str] | None = None,
                   on_start: Callable[[Sequence[Any]], None] | None = None,
                   stop: threading.Event | None = None,
                   profiler_dir: str | os.PathLike[str] | None = DEFAULT_DIR) -> Generator[Refresh, None, None]:
    """Judged windows until stopped; with ``probe``, a probe per GPU after each window (never inside one).

    ``probe_refresh`` re-measures the idle baselines at the first window. ``record`` appends every
    window, with its probe reading and its jobs' NCCL waits, as JSON Lines that ``replay_refreshes`` reads
    back. ``profiler_dir``: where the NCCL profiler plugin's rings are looked for (None: nowhere).
    """
    writer = RecordingWriter(record) if record is not None else None
    jobs = ProfiledJobs(profiler_dir) if profiler_dir is not None else None
    driver = None
    written: dict[str, float | None] = {}  # the baselines already in the recording

    def started(devices: Sequence[Any]) -> None:
        if jobs is not None:
            jobs.start()
        if on_start is not None:
            on_start(devices)

    try:
        for n, summaries in enumerate(windows(gpus, seconds, on_start=started, stop=stop)):
            waits = jobs.window() if jobs is not None else []  # at the window's end, before any probe runs
            driver = driver or _driver()
            readings: dict[str, Any] = {}
            if probe or probe_refresh:
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
                for w in waits:
                    writer.write("profile", refresh=n, **w.to_line())
            ref = judge(summaries, index=n, ignore_gpm=ignore_gpm, probes=readings, idle=idle)
            ref.waits = waits
            yield ref
    finally:
        if writer is not None:
            writer.close()
