# SPDX-License-Identifier: Apache-2.0
"""What a probe reading means, alone and beside the counters' verdict (pure: no GPU needed).

Readings: ``free`` (the probe ran near its idle speed: the SMs it needs are free), ``contended``
(it ran slower: something competes for the SMs), ``blocked`` (it could not start: a resident kernel
holds every SM), ``no-baseline`` (it ran, but no idle baseline exists to compare with), ``failed``.

A trap to keep in mind when reading ``contended``: without MPS, kernels of different processes never
run at the same time; the driver time-slices the GPU between their contexts. A probe (its own
process) beside a kernel of another process then gets a share of the time whether that kernel
works or waits. So ``contended`` says "something else holds the GPU", not "it works"; only
``free`` (and GPM, where present) can show that a resident kernel is waiting.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ...telemetry.verdict import RESIDENT_UTIL_PCT
from ..rows import VerdictRow
from .baseline import Baseline
from .measure import ProbeRun

# PROVISIONAL: to be derived from device recordings (probe beside a 1-warp spin, an NCCL-shaped
# waiter, a GEMM, on an idle GPU). At/above this share of its idle speed the probe ran "free".
PROBE_FREE_RATIO = 0.8

READINGS = ("free", "contended", "blocked", "no-baseline", "failed")


@dataclass
class ProbeReading:
    """A probe run, its baseline, their ratio, what it reads as, and one line saying so."""

    state: str
    ratio: float | None
    text: str
    run: dict[str, Any]
    baseline: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """The reading as a JSON-ready dict (what a recording keeps)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProbeReading:
        """A reading from :meth:`to_dict`'s form (a recording's)."""
        return cls(state=d["state"], ratio=d.get("ratio"), text=d.get("text", ""), run=d.get("run") or {},
                   baseline=d.get("baseline"))


def interpret(run: ProbeRun, baseline: Baseline | None, note: str | None = None) -> ProbeReading:
    """Turn a run and its baseline into a reading (``note`` is appended, e.g. why no baseline was re-measured)."""
    base = baseline.to_dict() if baseline is not None else None
    extra = f"; {note}" if note else ""
    if run.status == "error":
        return ProbeReading("failed", None, f"probe could not run: {run.reason}{extra}", run.to_dict(), base)
    if run.status == "stalled":
        return ProbeReading("blocked", None, f"probe could not start: {run.reason}{extra}", run.to_dict(), base)
    tflops = run.tflops or 0.0
    if baseline is None:
        return ProbeReading("no-baseline", None, f"probe ran at {tflops:.1f} TFLOP/s but there is no idle baseline to "
                                                 f"compare with (run diagnose --probe while this GPU is idle){extra}",
                            run.to_dict(), base)
    ratio = tflops / baseline.tflops
    src = "measured now" if baseline.source == "measured now" else f"{baseline.source}, {baseline.measured_utc}"
    head = (f"probe ran at {100 * ratio:.0f}% of its idle speed ({tflops:.1f} of {baseline.tflops:.1f} TFLOP/s; "
            f"baseline {src})")
    if ratio >= PROBE_FREE_RATIO:
        return ProbeReading("free", ratio, f"{head}: the SMs it needs are free{extra}", run.to_dict(), base)
    return ProbeReading("contended", ratio, f"{head}: something competes for the SMs (work, or the driver "
                                            f"time-slicing this GPU between processes){extra}", run.to_dict(), base)


def _disagree(verdict: str, reading: ProbeReading) -> str | None:
    """Where counters and probe tell different stories, one line saying how; None where they agree."""
    pct = f"{100 * reading.ratio:.0f}%" if reading.ratio is not None else ""
    if verdict == "busy-waiting" and reading.state == "contended":
        return (f"counters say waiting, but the probe got only {pct} of its idle speed: another context holds the GPU "
                "part of the time (without MPS the driver time-slices processes, waiting or not), or the waiter's "
                "shape leaves too little room")
    if verdict == "busy" and reading.state == "free":
        return (f"counters show work, but the probe ran at {pct} of its idle speed: the work leaves the SMs free "
                "(small or bursty kernels), or it paused during the probe")
    if verdict == "idle" and reading.state in ("contended", "blocked"):
        return f"counters read idle, but the probe was {reading.state}: work started after the window"
    return None


def apply_probe(row: VerdictRow, reading: ProbeReading) -> None:
    """Fold a reading into a verdict row: decide where the counters could only guess, report disagreements.

    Only a guess (``unknown``, or ``busy-waiting`` judged without GPM) on a kernel resident most of the
    window is changed: a ``free`` probe makes it a sure ``busy-waiting``; any other reading is added to
    the reason. Every other verdict stays the counters'.
    """
    row.probe = reading.to_dict()
    resident = row.nvml_util_pct is not None and row.nvml_util_pct >= RESIDENT_UTIL_PCT
    guess = row.verdict == "unknown" or (row.verdict == "busy-waiting" and row.confidence != "high")
    if guess and resident:
        if reading.state == "free":
            row.verdict, row.confidence = "busy-waiting", "high"
            row.signals = (*row.signals, "probe")
            row.reason = (f"a resident kernel is waiting: reported {row.nvml_util_pct:.0f}% while a {reading.text}; "
                          f"counters alone: {row.reason}")
            return
        if reading.state == "blocked":
            row.reason = f"{row.reason}; {reading.text}; whether that kernel works or waits the probe cannot say"
        else:
            row.reason = f"{row.reason}; {reading.text}"
        if row.verdict == "busy-waiting":
            row.disagreement = _disagree(row.verdict, reading)
        return
    row.disagreement = _disagree(row.verdict, reading)
