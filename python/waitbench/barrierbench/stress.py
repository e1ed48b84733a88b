# SPDX-License-Identifier: Apache-2.0
"""Correctness before speed: N rank processes x many rounds with random delays, checked every round.

Each rank writes the round it is arriving for into a shared array, waits, and once released reads
every rank's entry: none may still be at an earlier round (an early release: someone had not
arrived yet), and none may be two rounds ahead (a release that let a rank pass a round it needed
this rank for). A late release (a waiter that slept through its round's wake-up) would leave the
others waiting for it: every wait has a deadline, so it shows up as an error, never as a hang.
The arrival indexes of each round must be a permutation of 0..N-1, as ``multiprocessing.Barrier``'s.

The rank loop is written against ``multiprocessing.Barrier``'s interface only (``wait()`` and
``threading.BrokenBarrierError``), and runs unchanged on either barrier: the drop-in check.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import threading
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

from ..errors import invalid
from .lifeline import await_start, children_start_without_sigint, die_with_parent

MAX_ERRORS = 10  # per rank: the first few violations say enough


@dataclass
class StressResult:
    """What a stress run found: empty ``errors`` means every round of every rank was right."""

    kind: str
    ranks: int
    rounds: int
    seconds: float
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no round released a rank early or late."""
        return not self.errors


def delay(rng: random.Random) -> None:
    """Most rounds arrive at once; some spin a little, some sleep (so waiters both spin and sleep)."""
    x = rng.random()
    if x < 0.2:
        until = time.monotonic_ns() + int(rng.uniform(0, 30_000))
        while time.monotonic_ns() < until:
            pass
    elif x < 0.3:
        time.sleep(rng.uniform(0, 300e-6))


def check_round(rank: int, k: int, seen: Any) -> list[str]:
    """What is wrong with rank ``rank`` released from round ``k`` while ranks posted ``seen``."""
    early = [r for r, v in enumerate(seen) if v < k]
    ahead = [r for r, v in enumerate(seen) if v > k + 1]
    errors = []
    if early:
        errors.append(f"rank {rank} released from round {k} while rank(s) {early} had not arrived")
    if ahead:
        errors.append(f"rank {rank} in round {k} saw rank(s) {ahead} two rounds ahead")
    return errors


def stress_rank(barrier: Any, rank: int, rounds: int, seed: int, arrived: Any, out: Any) -> None:
    """One rank: ``rounds`` checked rounds on ``barrier`` (a HostBarrier or a multiprocessing.Barrier)."""
    rng = random.Random(seed * 7919 + rank)
    indexes = array("h", bytes(2 * rounds))
    errors: list[str] = []
    try:
        for k in range(1, rounds + 1):
            delay(rng)
            arrived[rank] = k
            indexes[k - 1] = barrier.wait()
            errors.extend(check_round(rank, k, arrived[:]))
            if len(errors) >= MAX_ERRORS:
                break
        out.put((rank, errors, indexes.tobytes()))
    except threading.BrokenBarrierError as exc:  # what multiprocessing.Barrier raises; BarrierBroken is one
        out.put((rank, [*errors, f"rank {rank}: {type(exc).__name__}: {exc}"], b""))


def _rank_process(parent: int, ready: Any, barrier: Any, rank: int, rounds: int, seed: int, arrived: Any,
                  out: Any) -> None:
    """A spawned rank: dies with its parent, leaves Ctrl-C to it, then runs :func:`stress_rank`."""
    die_with_parent(parent)
    ready[rank] = 1
    stress_rank(barrier, rank, rounds, seed, arrived, out)


def run_stress(ranks: int, rounds: int, *, kind: str = "shm-futex", spin_us: int = 50, seed: int = 0,
               timeout_s: float = 30.0) -> StressResult:
    """Run ``ranks`` spawned processes through ``rounds`` checked rounds of one barrier ``kind``."""
    if not isinstance(ranks, int) or not 2 <= ranks <= 256:
        raise invalid("ranks", ranks, "an int in [2, 256]")
    if not isinstance(rounds, int) or not 1 <= rounds <= 10_000_000:
        raise invalid("rounds", rounds, "an int in [1, 10000000]")
    ctx = mp.get_context("spawn")
    if kind == "shm-futex":
        from ..barrier import HostBarrier

        barrier: Any = HostBarrier(None, ranks, timeout_s=timeout_s, spin_us=spin_us)
    elif kind == "mp-barrier":
        barrier = ctx.Barrier(ranks, timeout=timeout_s)
    else:
        raise invalid("kind", kind, "'shm-futex' or 'mp-barrier'")
    arrived = ctx.RawArray("q", ranks)
    out = ctx.Queue()
    ready = ctx.RawArray("b", ranks)
    procs = [ctx.Process(target=_rank_process, args=(os.getpid(), ready, barrier, r, rounds, seed, arrived, out),
                         daemon=True) for r in range(ranks)]
    t0 = time.monotonic()
    result = StressResult(kind, ranks, rounds, 0.0)
    got: dict[int, bytes] = {}
    try:
        with children_start_without_sigint():
            for p in procs:
                p.start()
        while len(got) < ranks:
            try:
                rank, errors, idx = out.get(timeout=timeout_s + 5.0)
            except Exception:  # noqa: BLE001 - queue.Empty: a rank neither finished nor failed in time
                result.errors.append(f"ranks {sorted(set(range(ranks)) - set(got))} sent nothing within "
                                     f"{timeout_s + 5:g} s (exit codes {[p.exitcode for p in procs]})")
                break
            result.errors.extend(errors)
            got[rank] = idx
    finally:
        await_start(procs, ready)
        barrier.abort()
        for p in procs:
            if p.pid is None:
                continue
            p.join(timeout=10.0)
            if p.exitcode is None:
                p.terminate()
        if kind == "shm-futex":
            barrier.close()
    result.seconds = time.monotonic() - t0
    if len(got) == ranks and all(len(b) == 2 * rounds for b in got.values()):
        per_rank = [array("h", got[r]) for r in range(ranks)]
        want = list(range(ranks))
        bad = [k + 1 for k in range(rounds) if sorted(ix[k] for ix in per_rank) != want]
        if bad:
            result.errors.append(f"{len(bad)} round(s) whose arrival indexes are not 0..{ranks - 1}, first {bad[:5]}")
    return result


def wait_and_report(barrier: Any, rounds: int, out: Any) -> None:
    """A rank that waits ``rounds`` times, then reports how it ended (for the failure tests)."""
    import os

    try:
        for _ in range(rounds):
            barrier.wait()
        out.put(("ok", os.getpid(), None, "", time.monotonic(), []))
    except threading.BrokenBarrierError as exc:
        out.put(("broken", os.getpid(), getattr(exc, "reason", None), str(exc), time.monotonic(),
                 getattr(exc, "missing", [])))
