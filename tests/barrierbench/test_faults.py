# SPDX-License-Identifier: Apache-2.0
"""Fault injection, CI-sized: ranks killed and stopped at random points, every promise checked
(benchmarks/barrier_stress.py --faults runs the full size); and the checks themselves, on fake reports.
"""

from __future__ import annotations

import os

from waitbench.barrierbench.faults import FaultResult, _check, run_faults


def test_kills_and_stops_at_random_points_break_no_round_and_are_noticed_within_a_second() -> None:
    r = run_faults(16, 300, min_ranks=2, max_ranks=8, seed=3, stop_max_s=0.3)
    assert r.ok, r.errors
    assert r.episodes == 16 and r.injected["kill"] >= 3 and r.injected["stop"] >= 2, r.summary()
    assert r.detect_s and max(r.detect_s) < 1.0, r.summary()
    assert not [f for f in os.listdir("/dev/shm") if f.startswith(f"waitbench.auto-{os.getpid()}-")]


def _report(rank: int, done: int, broken: list | None = None) -> dict:
    rep: dict = {"rank": rank, "pid": 100 + rank, "done": done, "errors": []}
    if broken is not None:
        rep["broken"] = broken
    return rep


def test_the_checks_catch_a_late_detection_a_wrong_reason_a_silent_stop_and_a_missing_rank() -> None:
    """Fake reports (no processes): each broken promise must show up as an error."""
    pids, t_kill = [100, 101, 102, 103], 1_000_000_000
    reports = {
        0: _report(0, 5, [t_kill + 1_500_000_000, "rank-died", 3, 103, "late"]),  # 1.5 s after the kill
        1: _report(1, 5, [t_kill + 100_000_000, "timeout", -1, 0, "timed out"]),  # not the victim named
        2: _report(2, 5),  # stopped at round 5 of 10 without an error
    }
    res = FaultResult()
    _check(0, "kill", 3, pids, {**reports}, t_kill, 10, 1.0, res)
    text = "\n".join(res.errors)
    assert "rank 0 noticed the kill of rank 3 after 1.500 s" in text
    assert "rank 1: timed out" in text and "rank 2 stopped at round 5 without an error" in text
    res = FaultResult()
    _check(0, "none", 0, pids[:2], {0: _report(0, 10)}, None, 10, 1.0, res)
    assert res.errors == ["episode 0 (none): rank(s) [1] sent no report (hung or crashed)"]
