# SPDX-License-Identifier: Apache-2.0
"""The correctness run, CI-sized: 4 ranks x 2000 rounds with random delays on HostBarrier (spinning
and not) and on multiprocessing.Barrier through the same rank loop (benchmarks/barrier_stress.py
runs 10^5 rounds).
"""

from __future__ import annotations

import queue

import pytest

from waitbench.barrierbench.stress import run_stress, stress_rank


@pytest.mark.parametrize("kind,spin_us", [("shm-futex", 50), ("shm-futex", 0), ("mp-barrier", 0)])
def test_four_ranks_2000_rounds_never_release_early_or_late(kind: str, spin_us: int) -> None:
    r = run_stress(4, 2000, kind=kind, spin_us=spin_us, seed=1, timeout_s=20)
    assert r.ok, r.errors
    assert (r.ranks, r.rounds) == (4, 2000)


class _NoBarrier:
    """A 'barrier' that releases at once: what the checks must catch."""

    def wait(self) -> int:
        return 0


def test_the_checks_catch_an_early_release() -> None:
    out: queue.Queue = queue.Queue()
    arrived = [0, 0]  # rank 1 never arrives
    stress_rank(_NoBarrier(), 0, 5, 0, arrived, out)
    rank, errors, _ = out.get_nowait()
    assert rank == 0 and len(errors) == 5
    assert errors[0] == "rank 0 released from round 1 while rank(s) [1] had not arrived"


def test_the_checks_catch_a_rank_two_rounds_ahead() -> None:
    out: queue.Queue = queue.Queue()
    arrived = [0, 9]
    stress_rank(_NoBarrier(), 0, 1, 0, arrived, out)
    _, errors, _ = out.get_nowait()
    assert errors == ["rank 0 in round 1 saw rank(s) [1] two rounds ahead"]
