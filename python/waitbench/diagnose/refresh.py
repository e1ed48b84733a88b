# SPDX-License-Identifier: Apache-2.0
"""Judging one window of every watched GPU: verdict rows, the probe folded in, the host's late rank.

Pure: it runs on recorded windows, on any machine, so a live window, a ``--watch`` refresh and a
replayed recording are judged by the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..telemetry.summary import WindowSummary
from .late_rank import LateRank, late_rank
from .probe import baseline as bl
from .probe.judge import ProbeReading, apply_probe
from .rows import HINTS, VerdictRow, verdict_rows

if TYPE_CHECKING:
    from .profiled import JobWaits


@dataclass
class Refresh:
    """One window of every watched GPU, judged: the rows, the host's late-rank finding, its jobs' NCCL waits."""

    index: int
    rows: list[VerdictRow]
    late: LateRank | None
    waits: list[JobWaits] = field(default_factory=list)  # from profiler rings (diagnose.profiled); none without


def judge(summaries: Sequence[WindowSummary], *, index: int = 0, ignore_gpm: bool = False,
          probes: dict[str, Any] | None = None, idle: dict[str, WindowSummary] | None = None,
          labels: Sequence[str | None] | None = None) -> Refresh:
    """Verdict rows for one window per GPU, with probe readings (by UUID) folded in, and the late rank.

    ``idle``: power baselines by UUID; ``labels``: one per summary, shown beside the GPU (replays).
    """
    rows = verdict_rows(summaries, idle, ignore_gpm=ignore_gpm)
    for r, label in zip(rows, labels or [None] * len(rows), strict=False):  # labels may be fewer
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


def warm_idle_window(s: WindowSummary, power_w: float, *, measured_utc: str | None = None,
                     note: str | None = None) -> WindowSummary:
    """GPU ``s``'s warm-idle power as the idle window its windows are judged against.

    One shape for the live baseline (:func:`warm_idle_windows`) and the one a recording carries
    (diagnose.replay), so a replay judges exactly as the live session did. ``note`` says where it came from.
    """
    return WindowSummary(uuid=s.uuid, index=s.index, name=s.name, window_s=0.0, power_w=float(power_w),
                         power_limit_w=s.power_limit_w, start_time_utc=measured_utc, warnings=[note] if note else [])


def warm_idle_windows(summaries: Sequence[WindowSummary], driver: str) -> dict[str, WindowSummary]:
    """The power baseline of each GPU, as an idle window.

    Its warm-idle power comes from the probe's cached baseline (measured by ``diagnose --probe`` on an
    idle GPU), or from a GPU's of the same model and driver.
    """
    out = {}
    for s in summaries:
        base = bl.find(s.uuid, s.name, driver)
        if base is not None and base.power_warm_idle_w is not None:
            out[s.uuid] = warm_idle_window(s, base.power_warm_idle_w, measured_utc=base.measured_utc,
                                           note=f"warm-idle baseline: {base.source}")
    return out
