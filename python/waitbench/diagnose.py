# SPDX-License-Identifier: Apache-2.0
"""Watch GPUs and say, per GPU, whether "busy" is work or waiting.

Three steps kept apart so each can be reused and tested alone: :func:`watch` samples (the only
step that needs NVML), :func:`verdict_rows` turns window summaries into verdict rows (pure: it
runs on recorded windows, on any machine), :func:`render_table` / :func:`rows_to_json` show them.
``diagnose --replay`` skips the first step; later additions (probe, process naming, late-rank
inference, a metrics endpoint) plug in between the second and third.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Sequence

from .errors import invalid
from .telemetry import nvml
from .telemetry.gpm import PIPE_FIELDS
from .telemetry.recording import RecordingWriter
from .telemetry.sampler import DEFAULT_PERIOD_S, Sampler
from .telemetry.summary import WindowSummary
from .telemetry.verdict import classify

DEFAULT_SECONDS = 3.0
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


def verdict_rows(summaries: Iterable[WindowSummary], idle: dict[str, WindowSummary] | None = None, *,
                 observer: Literal["inside", "outside"] = "outside") -> list[VerdictRow]:
    """One verdict row per window summary (``idle``: baseline windows keyed by UUID, optional)."""
    rows = []
    for s in summaries:
        base = (idle or {}).get(s.uuid)
        v = classify(s, base, observer=observer)
        rows.append(VerdictRow(
            gpu=_label(s), uuid=s.uuid, name=s.name, verdict=v.verdict, reason=v.reason, hint=HINTS.get(v.verdict),
            window_s=s.window_s, nvml_util_pct=s.nvml_util_pct, gpm_sm_util_pct=s.gpm_sm_util_pct,
            gpm_sm_occupancy_pct=s.gpm_sm_occupancy_pct, pipes_pct={f: getattr(s, f) for f in PIPE_FIELDS},
            gpm_dram_bw_util_pct=s.gpm_dram_bw_util_pct, power_w=s.power_w,
            power_idle_w=v.inputs.get("power_idle_w"), power_delta_w=v.inputs.get("power_delta_w"),
            processes=list(s.processes), warnings=list(s.warnings), inputs=v.inputs, summary=s))
    return rows


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


def watch(gpus: Sequence[int | str] | None = None, seconds: float = DEFAULT_SECONDS, *,
          period_s: float = DEFAULT_PERIOD_S, record: str | os.PathLike[str] | None = None,
          on_start: Callable[[Sequence[Any]], None] | None = None) -> list[WindowSummary]:
    """Sample the GPUs for one window of ``seconds``; NvmlError (one line) if NVML is absent.

    Short-window warnings go into each summary's ``warnings`` instead of Python's warning output.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 1.0 <= seconds <= 3600.0:
        raise invalid("seconds", seconds, "a number of seconds in [1, 3600]")
    with Sampler(gpus, period_s) as sampler, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if on_start is not None:
            on_start(sampler.devices)
        sampler.begin()
        time.sleep(seconds)
        summaries = list(sampler.end().values())
    if record is not None:
        with RecordingWriter(record) as writer:
            for s in summaries:
                writer.window(s, label="diagnose")
    return summaries


def diagnose(gpus: Sequence[int | str] | None = None, seconds: float = DEFAULT_SECONDS) -> list[VerdictRow]:
    """Watch ``gpus`` (all by default) for ``seconds`` and return a verdict row per GPU."""
    return verdict_rows(watch(gpus, seconds))


def _fmt(v: float | None, unit: str = "%", digits: int = 0) -> str:
    return "—" if v is None else f"{v:.{digits}f}{unit}"


def render_table(rows: Sequence[VerdictRow], title: str | None = None) -> Any:
    """A rich Table of the rows: reported vs real activity, power, verdict."""
    from rich.table import Table

    style = {"busy-waiting": "bold red", "busy": "green", "idle": "dim", "shared": "yellow", "unknown": "magenta"}
    table = Table(title=title, title_justify="left")
    for col, just in (("GPU", "right"), ("name", "left"), ("reported", "right"), ("SM active", "right"),
                      ("occupancy", "right"), ("busiest pipe", "right"), ("DRAM", "right"), ("power", "right"),
                      ("procs", "right"), ("verdict", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in rows:
        pipe, pct = r.busiest_pipe
        pipe_text = "—" if pipe is None else f"{pipe.removeprefix('gpm_').removesuffix('_util_pct')} {pct:.1f}%"
        if r.power_delta_w is not None:
            power = f"{r.power_w:.0f} W ({r.power_delta_w:+.0f})"
        else:
            power = _fmt(r.power_w, " W")
        table.add_row(r.gpu, r.name, _fmt(r.nvml_util_pct), _fmt(r.gpm_sm_util_pct, digits=1),
                      _fmt(r.gpm_sm_occupancy_pct, digits=1), pipe_text, _fmt(r.gpm_dram_bw_util_pct, digits=1), power,
                      str(len(r.processes)), f"[{style.get(r.verdict, '')}]{r.verdict}[/]")
    return table


def render_notes(rows: Sequence[VerdictRow]) -> list[str]:
    """One line per GPU: the reason, the hint where there is one, and any window warning."""
    lines = []
    for r in rows:
        lines.append(f"GPU {r.gpu}: {r.verdict}: {r.reason}")
        if r.hint:
            lines.append(f"  hint: {r.hint}")
        lines.extend(f"  note: {w}" for w in r.warnings)
    return lines


def rows_to_json(rows: Sequence[VerdictRow]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in rows]
