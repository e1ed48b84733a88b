# SPDX-License-Identifier: Apache-2.0
"""The waiting ranks: spawned processes that arrive at each point's barrier, round after round.

Each round a rank posts the round's step number (so the parent, the late rank, knows it is about
to wait), waits, stamps when it is released, and on the GPU leg launches a one-warp kernel that
writes an ack to host-mapped memory and stamps when it sees it (``_C.AckProbe``, the same ack
kernel the host-side waiters launch). The last round of a point is the idle round: the parent
holds everyone for a second and each rank measures what its process burnt meanwhile. Stamps are
CLOCK_MONOTONIC, which is system-wide, so they subtract from the parent's.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from .kinds import Point, join
from .lifeline import die_with_parent

# Columns of a rank's per-round samples.
WAKE, ACK, THREAD_CPU, PROCESS_CPU, WALL, NATIVE_RELEASE, NATIVE_WAKE = range(7)
COLUMNS = 7
ACK_TIMEOUT_S = 10.0


@dataclass
class RankSamples:
    """What one rank measured at one point (rounds after warm-up), sent back to the parent."""

    rank: int
    point: int
    rounds: np.ndarray  # (rounds, COLUMNS) int64
    idle_process_cpu_ns: int
    idle_thread_cpu_ns: int
    idle_wall_ns: int


@dataclass
class RankPlan:
    """What every waiting rank of one rank count runs (picklable: the spawn arguments)."""

    points: list[Point]
    rounds: int
    warmup: int
    timeout_s: float
    gpus: int  # 0: CPU leg; else rank r launches its ack on GPU (r - 1) % gpus
    parent: int = 0  # the parent's pid: a rank dies with it (0: not armed)


def rank_main(rank: int, plan: RankPlan, posted: Any, results: Any, ready: Any = None) -> None:
    """Body of waiting rank ``rank`` (>= 1): every point of ``plan`` in order, then exit."""
    if plan.parent:
        die_with_parent(plan.parent)
    if ready is not None:
        ready[rank] = 1  # past start-up: the parent may close the barriers now
    try:
        probe = None
        if plan.gpus:
            from .._native import native

            probe = native().AckProbe((rank - 1) % plan.gpus)
        step = 0
        for index, point in enumerate(plan.points):
            step = _point(rank, index, point, plan, posted, results, probe, step)
    except BaseException:  # noqa: BLE001 - the parent reports it, with this traceback
        results.put(("error", rank, traceback.format_exc()))
        raise SystemExit(1) from None


def _point(rank: int, index: int, point: Point, plan: RankPlan, posted: Any, results: Any, probe: Any,
           step: int) -> int:
    party = join(point, rank, plan.timeout_s)
    n = plan.warmup + plan.rounds
    out = np.zeros((n, COLUMNS), dtype=np.int64)
    try:
        for i in range(n):
            step += 1
            posted[rank] = step
            c0, p0, t0 = time.thread_time_ns(), time.process_time_ns(), time.monotonic_ns()
            party.wait()
            t1 = time.monotonic_ns()
            c1, p1 = time.thread_time_ns(), time.process_time_ns()
            out[i, WAKE], out[i, THREAD_CPU], out[i, PROCESS_CPU], out[i, WALL] = t1, c1 - c0, p1 - p0, t1 - t0
            if probe is not None:
                out[i, ACK] = probe.fire(ACK_TIMEOUT_S)
            native = party.native_times()
            if native is not None:
                out[i, NATIVE_RELEASE], out[i, NATIVE_WAKE] = native
        step += 1
        posted[rank] = step  # the idle round: the parent holds it open for a while
        c0, p0, t0 = time.thread_time_ns(), time.process_time_ns(), time.monotonic_ns()
        party.wait()
        t1, c1, p1 = time.monotonic_ns(), time.thread_time_ns(), time.process_time_ns()
    finally:
        party.close()
    results.put(("point", RankSamples(rank, index, out[plan.warmup:], p1 - p0, c1 - c0, t1 - t0)))
    return step
