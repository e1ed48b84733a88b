# SPDX-License-Identifier: Apache-2.0
"""The late rank: the parent process spawns the waiting ranks and arrives last, round after round.

For one rank count, round after round, it waits until all of them are about to wait, lets a gap
pass, stamps the time and arrives.

Why this shape: in a tensor-parallel server the ranks wait for rank 0, which arrives when a request
comes in; what the fix costs is the time from that last arrival to each waiting rank running again
(and, on the GPU, to its kernel running). The gap makes sure the waiters have gone to sleep (or
are spinning, for a spin longer than the gap), as an idle server's would have.

Nothing hangs: every barrier wait has a deadline, the parent gives up on a rank that has not posted
within the deadline or has died (it aborts the barriers it can and ends the rank processes), and
the rank processes die with the parent (PR_SET_PDEATHSIG: even a SIGKILLed parent leaves none) and
leave Ctrl-C to it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import WaitbenchError, invalid
from .kinds import KINDS, Maker, Point
from .lifeline import await_start, children_start_without_sigint
from .ranks import RankPlan, RankSamples, rank_main

POLL_S = 20e-6  # the parent's sleep between looks at the ranks' posts
SETTLE_S = 0.05  # before an idle window: every rank is asleep (or spinning) by then
COLLECT_S = 30.0  # how long the parent waits for a rank's samples after a point


@dataclass(frozen=True)
class PointSettings:
    """How each point is measured."""

    rounds: int = 2000
    warmup: int = 100
    gap_us: float = 200.0
    idle_s: float = 1.0
    timeout_s: float = 30.0
    gpus: int = 0  # 0: CPU leg

    def check(self) -> None:
        """Raise ValueError naming the first setting out of its range."""
        if not isinstance(self.rounds, int) or not 1 <= self.rounds <= 10_000_000:
            raise invalid("rounds", self.rounds, "an int in [1, 10000000]")
        if not isinstance(self.warmup, int) or not 0 <= self.warmup <= 100_000:
            raise invalid("warmup", self.warmup, "an int in [0, 100000]")
        if not 0 <= self.gap_us <= 1e6:
            raise invalid("gap_us", self.gap_us, "microseconds in [0, 1e6]")
        if not 0 <= self.idle_s <= 60:
            raise invalid("idle_s", self.idle_s, "seconds in [0, 60]")


@dataclass
class PointResult:
    """One point: the parent's release stamps and every waiting rank's samples (after warm-up)."""

    point: Point
    release_ns: np.ndarray
    ranks: list[RankSamples]
    idle_windows: dict[str, Any] | None = field(default=None)  # telemetry summaries by GPU UUID


def run_group(ranks: int, kinds: Sequence[tuple[str, dict[str, Any]]], settings: PointSettings, *,
              sampler: Any = None, progress: Callable[[str], None] | None = None) -> Iterator[PointResult]:
    """Measure every (kind, options) of ``kinds`` with ``ranks`` processes (this one + ranks - 1 spawned)."""
    if not isinstance(ranks, int) or not 2 <= ranks <= 256:
        raise invalid("ranks", ranks, "an int in [2, 256]")
    for kind, _ in kinds:
        if kind not in KINDS:
            raise invalid("kind", kind, "one of " + ", ".join(KINDS))
    settings.check()
    say = progress or (lambda _msg: None)
    ctx = mp.get_context("spawn")
    maker = Maker(ranks, settings.timeout_s, ctx)
    points: list[Point] = []
    procs: list[Any] = []
    try:
        points = [maker.point(kind, **opts) for kind, opts in kinds]
        posted = ctx.RawArray("q", ranks)
        results = ctx.Queue()
        plan = RankPlan(points, settings.rounds, settings.warmup, settings.timeout_s, settings.gpus, os.getpid())
        say(f"{ranks} ranks: starting {ranks - 1} rank processes")
        ready = ctx.RawArray("b", ranks)
        procs = [ctx.Process(target=rank_main, args=(r, plan, posted, results, ready), daemon=True,
                             name=f"waitbench-rank{r}") for r in range(1, ranks)]
        with children_start_without_sigint():  # Ctrl-C is this process's: it releases the ranks and keeps results
            for p in procs:
                p.start()
        await_start(procs, ready, offset=1, timeout_s=settings.timeout_s)  # before a barrier can close
        if not all(ready[1:]):
            raise _failure(results, procs, f"rank(s) did not start within {settings.timeout_s:g} s")
        step = 0
        for index, point in enumerate(points):
            say(f"{ranks} ranks: {point.kind} {point.options or ''}".rstrip())
            result, step = _point(index, point, maker, settings, posted, results, procs, sampler, step)
            yield result
    finally:
        if procs:
            await_start(procs, ready, offset=1)  # a rank still starting would fail opening a closed barrier
        for p in points:  # a rank still waiting is released with an error
            if p.kind == "mp-barrier" or (p.kind == "shm-futex" and not p.handle.closed):
                p.handle.abort()
        for p in procs:
            if p.pid is None:  # never started (stopped while starting the others)
                continue
            p.join(timeout=5.0)
            if p.exitcode is None:
                p.terminate()
                p.join(timeout=5.0)
        maker.close(points)


def _point(index: int, point: Point, maker: Maker, settings: PointSettings, posted: Any, results: Any,
           procs: list[Any], sampler: Any, step: int) -> tuple[PointResult, int]:
    n = settings.warmup + settings.rounds
    release = np.zeros(n, dtype=np.int64)
    gap_s = settings.gap_us / 1e6
    party = maker.party(point)
    windows = None
    try:
        for i in range(n):
            step += 1
            _await_posted(posted, step, procs, results, settings.timeout_s)
            if gap_s:
                time.sleep(gap_s)
            release[i] = time.monotonic_ns()
            party.wait()
        step += 1  # the idle round
        _await_posted(posted, step, procs, results, settings.timeout_s)
        time.sleep(SETTLE_S)
        if sampler is not None:
            sampler.begin()
        time.sleep(settings.idle_s)
        if sampler is not None:
            windows = sampler.end()
        party.wait()
    finally:
        party.close()
    samples = _collect(index, len(procs), procs, results)
    return PointResult(point, release[settings.warmup:], samples, windows), step


def _await_posted(posted: Any, step: int, procs: list[Any], results: Any, timeout_s: float) -> None:
    """Until every waiting rank has posted ``step`` (it is about to wait); WaitbenchError if one died."""
    limit = time.monotonic() + timeout_s
    looks = 0
    while min(posted[1:]) < step:
        looks += 1
        if looks % 500 == 0:
            if any(p.exitcode is not None for p in procs):
                raise _failure(results, procs, "a rank process exited")
            if time.monotonic() > limit:
                late = [r for r in range(1, len(posted)) if posted[r] < step]
                raise _failure(results, procs, f"rank(s) {late} did not reach round {step} within {timeout_s:g} s")
        time.sleep(POLL_S)


def _collect(index: int, n: int, procs: list[Any], results: Any) -> list[RankSamples]:
    out: list[RankSamples] = []
    limit = time.monotonic() + COLLECT_S
    while len(out) < n:
        try:
            kind, *body = results.get(timeout=max(limit - time.monotonic(), 0.01))
        except Exception:  # noqa: BLE001 - queue.Empty: a rank never sent its samples
            raise _failure(results, procs, f"{n - len(out)} rank(s) sent no samples within {COLLECT_S:g} s") from None
        if kind == "error":
            raise WaitbenchError(f"rank {body[0]} failed:\n{body[1]}")
        if body[0].point != index:
            raise WaitbenchError(f"rank {body[0].rank} sent samples of point {body[0].point}, expected {index}")
        out.append(body[0])
    return sorted(out, key=lambda s: s.rank)


def _failure(results: Any, procs: list[Any], what: str) -> WaitbenchError:
    """The error to raise, with the tracebacks the ranks sent (if any) and their exit codes."""
    details = []
    while True:
        try:
            kind, *body = results.get(timeout=0.5)
        except Exception:  # noqa: BLE001 - queue.Empty: nothing more
            break
        if kind == "error":
            details.append(f"rank {body[0]}:\n{body[1]}")
    codes = ", ".join(f"rank {i + 1}: {p.exitcode}" for i, p in enumerate(procs))
    return WaitbenchError(f"{what} (exit codes: {codes})" + ("\n" + "\n".join(details) if details else ""))
