# SPDX-License-Identifier: Apache-2.0
"""Pair bookkeeping of the throughput measurement, on a fake clock with a fake workload and a fake
waiter (CPU): stop rules, noisy points, stalls, and release of the waiter on Ctrl-C.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from waitbench.throughput import PairPolicy, measure_pairs, summarize
from waitbench.waiter import WaitOutcome
from waitbench.workloads import Timed


@dataclass
class FakeClock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeWaiter:
    """Records arm/release/abort calls like a waiter would see them; measures nothing."""

    calls: list[str] = field(default_factory=list)
    armed: bool = False

    def arm(self) -> None:
        self.calls.append("arm")
        self.armed = True

    def release(self) -> int:
        self.calls.append("release")
        return 0

    def abort(self) -> None:
        self.calls.append("abort")

    def wait(self, timeout_s: float | None = None) -> WaitOutcome:
        self.calls.append("wait")
        status = "aborted" if self.calls[-2] == "abort" else "released"
        self.armed = False
        return WaitOutcome(status, 0, 0, 0, 0, -1, -1)


class FakeTimedWorkload:
    """Solo runs take `solo_s`; runs while the fake waiter is armed take `conc_s` (or never finish)."""

    def __init__(self, clock: FakeClock, waiter: FakeWaiter, solo_s: list[float], conc_s: list[float | None],
                 interrupt_at: int | None = None) -> None:
        self.clock, self.waiter = clock, waiter
        self.solo_s, self.conc_s = iter(solo_s), iter(conc_s)
        self.interrupt_at, self.runs, self.finished = interrupt_at, 0, 0

    def run(self, launches: int | None = None, timeout_s: float = 60.0) -> Timed:
        self.runs += 1
        if self.interrupt_at == self.runs:
            raise KeyboardInterrupt
        t = next(self.conc_s) if self.waiter.armed else next(self.solo_s)
        if t is None or t > timeout_s:
            self.clock.now += timeout_s
            return Timed(timeout_s, False, 1)
        self.clock.now += t
        return Timed(t, True, 1)

    def finish(self, timeout_s: float = 60.0) -> bool:
        self.finished += 1
        return True

    def throughput(self, t: Timed) -> float:
        return 1.0 / t.elapsed_s

    def held_clock_mhz(self) -> float:
        return 1000.0 + self.runs  # which run it followed


POLICY = PairPolicy(min_pairs=5, min_s=0.0, max_s=10.0, spread_target_pct=1.0)


def test_stops_after_min_pairs_when_the_spread_is_small() -> None:
    clock, w = FakeClock(), FakeWaiter()
    tw = FakeTimedWorkload(clock, w, [0.1] * 100, [0.2] * 100)
    r = measure_pairs(tw, w, POLICY, clock)
    assert len(r.ratios) == 5 and r.ratios[0] == pytest.approx(0.5)
    fields = summarize(r, POLICY)
    assert fields["tput_ratio"] == pytest.approx(0.5) and fields["tput_noisy"] is False
    assert w.calls[:3] == ["arm", "release", "wait"]


def test_a_noisy_point_runs_to_the_cap_and_is_marked_noisy_not_dropped() -> None:
    clock, w = FakeClock(), FakeWaiter()
    conc = [0.2 if i % 2 else 0.4 for i in range(1000)]
    tw = FakeTimedWorkload(clock, w, [0.1] * 1000, conc)
    r = measure_pairs(tw, w, PairPolicy(min_pairs=5, min_s=0.0, max_s=3.0, spread_target_pct=1.0), clock)
    assert clock.now >= 3.0 and len(r.ratios) > 5
    assert summarize(r, POLICY)["tput_noisy"] is True


def test_a_workload_that_cannot_finish_beside_the_waiter_is_a_stall() -> None:
    clock, w = FakeClock(), FakeWaiter()
    tw = FakeTimedWorkload(clock, w, [0.01] * 10, [None])
    r = measure_pairs(tw, w, POLICY, clock)
    assert r.stalled and r.stall_ms == pytest.approx(1000.0)  # STALL_MIN_S
    assert tw.finished == 1 and w.calls == ["arm", "release", "wait"]
    fields = summarize(r, POLICY)
    assert fields["tput_concurrent"] is None and fields["tput_ratio"] is None and fields["stall_ms"] == 1000.0


def test_ctrl_c_during_a_concurrent_run_aborts_and_collects_the_waiter() -> None:
    clock, w = FakeClock(), FakeWaiter()
    tw = FakeTimedWorkload(clock, w, [0.1] * 10, [0.2] * 10, interrupt_at=4)  # run 4 = 2nd concurrent run
    with pytest.raises(KeyboardInterrupt):
        measure_pairs(tw, w, POLICY, clock)
    assert w.calls[-2:] == ["abort", "wait"] and not w.armed


def test_the_held_clock_is_taken_after_each_solo_run_only() -> None:
    clock = FakeClock()
    waiter = FakeWaiter()
    tw = FakeTimedWorkload(clock, waiter, [0.1] * 3, [0.1] * 3)
    r = measure_pairs(tw, waiter, PairPolicy(min_pairs=3, min_s=0.0, max_s=10.0, spread_target_pct=100.0), clock)
    assert r.solo_clock_mhz == [1001.0, 1003.0, 1005.0]  # runs 1, 3, 5 are the solo ones
