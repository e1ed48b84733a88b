# SPDX-License-Identifier: Apache-2.0
"""Verdict rows: what one GPU did in one window, in the terms a user asks about, and the hint beside it.

Why at the bottom of the diagnose package: every other part reads rows (the judge that folds in the
probe and the late rank, the renderer, the exporter, the probe, Monitor), and none of them is needed
to make one, so each imports this module and nothing here imports them back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..metrics import DIAGNOSED
from ..telemetry.gpm import GPM_FIELDS, PIPE_FIELDS
from ..telemetry.summary import WindowSummary
from ..telemetry.verdict import classify
from . import processes as procs

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
    metrics: dict[str, Any] = field(default_factory=dict)  # the metric table's diagnose entries, by name

    @property
    def busiest_pipe(self) -> tuple[str | None, float | None]:
        """The GPM pipe with the highest activity and its percentage (None, None without GPM)."""
        known = {k: v for k, v in self.pipes_pct.items() if v is not None}
        if not known:
            return None, None
        top = max(known, key=lambda k: known[k])
        return top, known[top]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: every field but the summary, whose null reasons it keeps."""
        d = {k: v for k, v in self.__dict__.items() if k not in ("summary", "metrics")}
        d.update(self.metrics)
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
            confidence=v.confidence, signals=tuple(v.signals),
            metrics={m.name: getattr(s, m.window) for m in DIAGNOSED if m.window}))
    return rows

