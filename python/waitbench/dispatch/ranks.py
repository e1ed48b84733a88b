# SPDX-License-Identifier: Apache-2.0
"""One rank process of a dispatch group: receive every request, start the forward, ack.

Rank 0 also plays the request source: it waits for every rank's ack of the previous request (a
tensor-parallel step ends in a collective all ranks join), sleeps until the next arrival (a request
already due is sent at once, and its wait counts in its latency), stamps the arrival and hands it
on. After a request each rank launches the stamping forward on its GPU (when it has one) and acks.

Nothing outlives the parent: a rank asks the kernel to kill it when its parent dies
(``PR_SET_PDEATHSIG``), ignores Ctrl-C (the parent aborts the ring, which ends every ring wait, and
ends what is left), and every wait has a deadline. Whatever it measured, finished or not, is sent to
the parent before it exits.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from .channels import ABORTED, RELEASED, Channel, RingChannel, TorchChannel, ZmqChannel
from .modes import MODES

PR_SET_PDEATHSIG = 1
# Columns of a rank's per-request samples.
OUTCOME, RECV, ARRIVAL, CPU, WALL, WOKE_CPU, OFF_CPU, PROC_CPU, KERNEL_GT = range(9)
COLUMNS = 9
CLOSED_LOOP = -1  # a schedule entry: send as soon as the previous request is done everywhere


@dataclass
class RankPlan:
    """What every rank of one mode's group runs (picklable: the spawn arguments)."""

    mode: str
    options: dict[str, int]
    ranks: int
    ring_name: str
    scratch: str  # a private folder: the FileStore and the ipc socket live there
    offsets_ns: np.ndarray  # per request, from rank 0's start; CLOSED_LOOP for the max-rate phase
    start_delay_ns: int
    timeout_s: float
    gpus: int  # 0: no GPU (host receive only); else rank r uses GPU r % gpus
    work_ns: int
    parent_pid: int
    barrier: Any = None  # mp.Barrier or HostBarrier, for the nccl entries


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this process when its parent dies; exit now if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _channel(rank: int, plan: RankPlan, ring: Any, native: Any) -> Channel:
    mode = MODES[plan.mode]
    if mode.transport == "ring":
        how = getattr(native.RingWait, mode.wait)
        param = {"SLEEP": plan.options.get("sleep_us", 0) * 1000, "ADAPTIVE": plan.options.get("spin_us", 0) * 1000,
                 "MWAITX": plan.options.get("wait_cycles", 0), "UMWAIT": plan.options.get("wait_cycles", 0)}
        return RingChannel(ring, how, param.get(mode.wait, 0), plan.timeout_s)
    if mode.transport == "zmq":
        return ZmqChannel(rank, plan.ranks, os.path.join(plan.scratch, "zmq.sock"), ring, plan.timeout_s)
    return TorchChannel(mode.transport, rank, plan.ranks, os.path.join(plan.scratch, "store"), plan.timeout_s,
                        gpu=rank % plan.gpus if plan.gpus else None, entry=mode.entry, barrier=plan.barrier)


def rank_main(rank: int, plan: RankPlan, results: Any) -> None:
    """Body of rank ``rank``: every request of ``plan``, then its samples to ``results``."""
    die_with_parent(plan.parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = np.zeros((len(plan.offsets_ns), COLUMNS), dtype=np.int64)
    done, end_ns, error, cals = [0], 0, None, []
    try:
        from .._native import host, native

        ring = host().DispatchRing(plan.ring_name, plan.ranks, False)
        forward = None
        if plan.gpus:
            nat = native()
            forward = nat.ForwardStamp(rank % plan.gpus, len(plan.offsets_ns), plan.work_ns)
            forward.launch(0)  # load the module before the first request
            forward.finish(0, plan.timeout_s)
            cals.append(nat.calibrate_clock(rank % plan.gpus))
        channel = _channel(rank, plan, ring, host())
        ring.ack(rank, 1)  # joined: request k travels as sequence number k + 1
        try:
            end_ns = _serve(rank, plan, ring, channel, forward, out, results, done)
        finally:
            channel.close()
        if forward is not None:
            cals.append(nat.calibrate_clock(rank % plan.gpus))
    except BaseException:  # noqa: BLE001 - the parent reports it, with what was measured so far
        error = traceback.format_exc()
    results.put(("samples", rank, out[:done[0]], end_ns, cals, error))


def _serve(rank: int, plan: RankPlan, ring: Any, channel: Channel, forward: Any, out: np.ndarray,
           results: Any, done: list[int]) -> int:
    """The request loop (``done[0]``: requests finished so far); rank 0's time of the last ack."""
    start_ns = 0
    for k in range(1, len(plan.offsets_ns) + 1):
        row, seq = out[k - 1], k + 1
        p0, t0 = time.process_time_ns(), time.monotonic_ns()
        if rank == 0:
            ring.wait_acks(seq - 1, 0, plan.timeout_s)  # every rank joined, or finished request k - 1
            if k == 1:
                start_ns = time.monotonic_ns() + plan.start_delay_ns
                results.put(("start", start_ns))
            offset = int(plan.offsets_ns[k - 1])
            if offset != CLOSED_LOOP and not ring.sleep_until(start_ns + offset):
                raise InterruptedError(f"aborted before request {k}")
            arrival = start_ns + offset if offset != CLOSED_LOOP else time.monotonic_ns()
            c0 = time.thread_time_ns()
            channel.send(seq, arrival)
            recv = time.monotonic_ns()
            # rank 0 waits for the acks and the next arrival, then sends: its wall is all of that
            row[:OFF_CPU + 1] = (RELEASED, recv, arrival, time.thread_time_ns() - c0, recv - t0, -1, 0)
        else:
            got = channel.recv(seq)
            row[:OFF_CPU + 1] = got
            if got[0] != RELEASED:
                raise TimeoutError(f"request {k}: " + ("aborted" if got[0] == ABORTED else "not received in time"))
        row[PROC_CPU] = time.process_time_ns() - p0
        if forward is not None:
            forward.launch(k - 1)
            row[KERNEL_GT] = forward.finish(k - 1, plan.timeout_s)
        ring.ack(rank, seq)
        done[0] = k
    return ring.wait_acks(len(plan.offsets_ns) + 1, 0, plan.timeout_s) if rank == 0 else 0
