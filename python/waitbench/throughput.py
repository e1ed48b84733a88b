# SPDX-License-Identifier: Apache-2.0
"""Concurrent throughput of a workload beside a waiter: interleaved solo/concurrent pairs.

Timed from enqueue, until the spread of the per-pair ratios is small or a time cap is hit (then the
point is marked noisy, never dropped). A workload that cannot finish while the waiter is resident
is reported as stalled, with how long it stalled, instead of as a throughput.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .stats import median, relative_spread_pct
from .waiter import Waiter
from .workloads import TimedWorkload

STALL_FACTOR = 20.0  # a concurrent run that takes 20x its solo time without finishing is a stall
STALL_MIN_S = 1.0


@dataclass(frozen=True)
class PairPolicy:
    """When to stop repeating pairs (nvbench's rule: enough samples and time, then spread or cap)."""

    min_pairs: int = 10
    min_s: float = 0.5
    max_s: float = 15.0
    spread_target_pct: float = 0.5
    run_s: float = 0.05  # target length of one timed run


@dataclass
class PairResult:
    """The solo and concurrent runs of one point, their ratios, and whether it stalled."""

    solo: list[float] = field(default_factory=list)  # throughputs
    solo_clock_mhz: list[float] = field(default_factory=list)  # SM clock each solo run held, where measured
    concurrent: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    stalled: bool = False
    stall_ms: float | None = None
    waiter_status: str = "released"

    @property
    def spread_pct(self) -> float:
        """Relative spread of the per-pair ratios, percent."""
        return relative_spread_pct(self.ratios)

    def noisy(self, policy: PairPolicy) -> bool:
        """True when the spread target was not reached (and the point did not stall)."""
        return not self.stalled and self.spread_pct > policy.spread_target_pct


def _concurrent_run(tw: TimedWorkload, waiter: Waiter, stall_timeout_s: float, result: PairResult) -> float | None:
    """One run with the waiter resident; its throughput, or None (and result.stalled) on a stall."""
    waiter.arm()
    try:
        t = tw.run(timeout_s=stall_timeout_s)
        waiter.release()
    except BaseException:
        waiter.abort()
        waiter.wait()
        raise
    outcome = waiter.wait()
    result.waiter_status = outcome.status
    if not t.completed:
        result.stalled = True
        result.stall_ms = t.elapsed_s * 1e3
        if not tw.finish(timeout_s=60.0):
            raise RuntimeError("the workload did not finish even after the waiter was released")
        return None
    if outcome.status != "released":
        return None  # the waiter ended early (expired/aborted): this run did not measure it
    return tw.throughput(t)


def measure_pairs(tw: TimedWorkload, waiter: Waiter, policy: PairPolicy,
                  clock: Callable[[], float] = time.monotonic) -> PairResult:
    """Interleave solo and concurrent runs of ``tw`` beside ``waiter`` until ``policy`` says stop."""
    result = PairResult()
    start = clock()
    solo_s = None
    while True:
        solo = tw.run(timeout_s=60.0)
        solo_tput = tw.throughput(solo)
        held_mhz = tw.held_clock_mhz()
        if held_mhz is not None:
            result.solo_clock_mhz.append(held_mhz)
        solo_s = solo.elapsed_s if solo_s is None else min(solo_s, solo.elapsed_s)
        conc = _concurrent_run(tw, waiter, max(STALL_FACTOR * solo_s, STALL_MIN_S), result)
        if result.stalled:
            result.solo.append(solo_tput)
            return result
        if conc is not None:
            result.solo.append(solo_tput)
            result.concurrent.append(conc)
            result.ratios.append(conc / solo_tput)
        elapsed = clock() - start
        enough = len(result.ratios) >= policy.min_pairs and elapsed >= policy.min_s
        if (enough and result.spread_pct <= policy.spread_target_pct) or elapsed >= policy.max_s:
            return result


def summarize(result: PairResult, policy: PairPolicy) -> dict[str, float | int | bool | None]:
    """The WORKLOAD_FIELDS a pair series fills."""
    return {
        "tput_solo": median(result.solo) if result.solo else None,
        "tput_concurrent": median(result.concurrent) if result.concurrent else None,
        "tput_ratio": median(result.ratios) if result.ratios else None,
        # a spread over a median of 0 is infinite: no figure (a record holds finite numbers only)
        "tput_ratio_spread_pct": result.spread_pct if len(result.ratios) >= 2 and math.isfinite(result.spread_pct)
        else None,
        "tput_pairs": len(result.ratios),
        "tput_noisy": result.noisy(policy),
        "stall_ms": result.stall_ms,
    }
