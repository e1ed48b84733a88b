# SPDX-License-Identifier: Apache-2.0
"""One mode's group: spawn the rank processes, watch the idle window, collect every rank's samples.

Why a fresh group per mode: a mode's process group, barrier or socket cannot leak into the next,
and a mode that hangs (a torch collective past its deadline) is ended with its processes alone.

Nothing hangs and nothing is lost: every wait has a deadline (the ranks' own, and the parent's for
each message it expects); a rank that dies is noticed; Ctrl-C aborts the ring (every ring wait ends),
collects what the ranks measured, ends the rest, and the result comes back marked 'aborted' before
KeyboardInterrupt goes on; the ranks die with the parent (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import checks
from ..errors import invalid
from .arrivals import MAX_BURST, MAX_RATE_HZ, MAX_REQUESTS, PATTERNS, arrival_offsets_ns
from .modes import Mode
from .ranks import CLOSED_LOOP, RankPlan, rank_main

WARMUP_GAP_NS = 1_000_000  # warm-up requests, 1 ms apart
START_DELAY_NS = 20_000_000  # rank 0's first request, after every rank joined
SETTLE_S = 0.2  # the idle window opens this long after the last warm-up request
STARTUP_S = 120.0  # spawning, importing torch, forming a process group
ABORT_GRACE_S = 5.0  # after an abort, how long ranks get to send what they have


@dataclass(frozen=True)
class Settings:
    """How each mode is measured (checked as a whole before any process starts)."""

    ranks: int = 2
    requests: int = 2000
    warmup: int = 100
    pattern: str = "poisson"
    rate_hz: float = 200.0
    burst_size: int = 16
    max_rate_requests: int = 500
    idle_s: float = 2.0
    timeout_s: float = 60.0
    seed: int = 0
    gpus: int = 0  # 0: host receive only; else rank r launches its forward on GPU r % gpus
    work_us: float = 20.0

    def check(self) -> None:
        """Raise ValueError naming the first setting out of its range."""
        checks.count("ranks", self.ranks, 2, 256)
        checks.count("requests", self.requests, 1, MAX_REQUESTS)
        checks.count("warmup", self.warmup, 0, 100_000)
        if self.pattern not in PATTERNS:
            raise invalid("pattern", self.pattern, "one of " + ", ".join(PATTERNS))
        checks.number("rate_hz", self.rate_hz, 1e-3, MAX_RATE_HZ)
        checks.count("burst_size", self.burst_size, 1, MAX_BURST)
        checks.count("max_rate_requests", self.max_rate_requests, 0, MAX_REQUESTS)
        checks.number("idle_s", self.idle_s, 0.5, 600.0)
        checks.number("timeout_s", self.timeout_s, 1.0, 86_400.0)
        if self.timeout_s <= self.idle_s + 1.0:
            raise invalid("timeout_s", self.timeout_s, f"seconds > idle_s + 1 = {self.idle_s + 1:g} (a rank waits "
                          "through the idle window)")
        checks.count("seed", self.seed, 0, 2**63 - 1)
        checks.count("gpus", self.gpus, 0, 1024)
        checks.number("work_us", self.work_us, 0.0, 1e6)

    def offsets_ns(self) -> np.ndarray:
        """Every request's arrival offset: warm-up, the idle window, the measured stream, the max-rate phase."""
        warm = np.arange(1, self.warmup + 1, dtype=np.int64) * WARMUP_GAP_NS
        idle_end = self.warmup * WARMUP_GAP_NS + int(self.idle_s * 1e9)
        stream = idle_end + arrival_offsets_ns(self.pattern, self.rate_hz, self.requests, seed=self.seed,
                                               burst_size=self.burst_size)
        closed = np.full(self.max_rate_requests, CLOSED_LOOP, dtype=np.int64)
        return np.concatenate([warm, stream, closed])

    def idle_window_ns(self) -> tuple[int, int]:
        """(begin, end) offsets of the idle window: no request comes meanwhile."""
        begin = self.warmup * WARMUP_GAP_NS
        return begin + int(SETTLE_S * 1e9), begin + int(self.idle_s * 1e9) - 50_000_000


@dataclass
class ModeResult:
    """One mode's run: each rank's samples, rank 0's start and end, the idle telemetry."""

    mode: Mode
    options: dict[str, int]
    settings: Settings
    status: str = "ok"  # 'ok', 'aborted', 'error' or 'skipped'
    detail: str = ""
    ranks: dict[int, np.ndarray] = field(default_factory=dict)
    calibrations: dict[int, list[dict[str, float]]] = field(default_factory=dict)
    start_ns: int = 0
    end_ns: int = 0
    windows: dict[str, Any] | None = None


def _make_barrier(mode: Mode, options: dict[str, int], settings: Settings, ctx: Any) -> Any:
    if mode.entry == "mp-barrier":
        return ctx.Barrier(settings.ranks)
    if mode.entry == "host-barrier":
        from ..barrier import HostBarrier

        return HostBarrier(None, settings.ranks, timeout_s=settings.timeout_s, spin_us=options["spin_us"])
    return None


def run_mode(mode: Mode, options: dict[str, int], settings: Settings, *, sampler: Any = None,
             say: Callable[[str], None] = lambda _m: None) -> ModeResult:
    """Measure one ring/gloo/zmq/nccl mode with ``settings.ranks`` spawned rank processes.

    Raises KeyboardInterrupt after an interrupted run only through :func:`run_modes`; here the
    result comes back with status 'aborted'.
    """
    from .._native import host

    res = ModeResult(mode, options, settings)
    ctx = mp.get_context("spawn")
    scratch = tempfile.mkdtemp(prefix="waitbench-dispatch-")
    ring_name = f"/waitbench.dispatch.{uuid.uuid4().hex[:16]}"
    ring = host().DispatchRing(ring_name, settings.ranks, True)
    barrier = _make_barrier(mode, options, settings, ctx)
    results = ctx.Queue()
    offsets = settings.offsets_ns()
    plan = RankPlan(mode.name, options, settings.ranks, ring_name=ring_name, scratch=scratch, offsets_ns=offsets,
                    start_delay_ns=START_DELAY_NS, timeout_s=settings.timeout_s, gpus=settings.gpus,
                    work_ns=int(settings.work_us * 1e3), parent_pid=os.getpid(), barrier=barrier)
    procs = [ctx.Process(target=rank_main, args=(r, plan, results), daemon=True, name=f"waitbench-dispatch{r}")
             for r in range(settings.ranks)]
    try:
        for p in procs:
            p.start()
        say(f"{mode.name}: {settings.ranks} ranks started")
        res.start_ns = _expect(results, procs, "start", STARTUP_S)[0]
        ring.unlink()  # every rank has it mapped: nothing to leak from here on
        if sampler is not None:
            begin, end = settings.idle_window_ns()
            _sleep_until_ns(res.start_ns + begin)
            sampler.begin()
            _sleep_until_ns(res.start_ns + end)
            res.windows = sampler.end()
        run_s = (int(offsets.max()) - time.monotonic_ns() + res.start_ns) / 1e9
        _collect(res, results, procs, max(run_s, 0) + settings.timeout_s + 10.0)
    except KeyboardInterrupt:
        ring.abort()
        res.status, res.detail = "aborted", "interrupted (Ctrl-C): what every rank measured until then"
        _collect(res, results, procs, ABORT_GRACE_S, quiet=True)
    except Exception as exc:  # noqa: BLE001 - a failed mode is a record with the reason, the run goes on
        ring.abort()
        res.status, res.detail = "error", str(exc)
        _collect(res, results, procs, ABORT_GRACE_S, quiet=True)
    finally:
        ring.abort()
        _end(procs)
        if mode.entry == "host-barrier":
            barrier.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return res


def _sleep_until_ns(t_ns: int) -> None:
    """Sleep in short steps (Ctrl-C is seen between them): the parent's waits time nothing."""
    while (left := t_ns - time.monotonic_ns()) > 0:
        time.sleep(min(left / 1e9, 0.1))


def _expect(results: Any, procs: list[Any], kind: str, within_s: float) -> list[Any]:
    """The body of the next message of ``kind``; WaitbenchError if a rank died or none came in time."""
    from ..errors import WaitbenchError

    limit = time.monotonic() + within_s
    while True:
        try:
            msg = results.get(timeout=0.2)
        except queue.Empty:
            dead = [p.name for p in procs if p.exitcode is not None]
            if dead or time.monotonic() > limit:
                raise WaitbenchError(f"no '{kind}' from the ranks within {within_s:g} s"
                                     + (f" (exited: {', '.join(dead)})" if dead else "")) from None
            continue
        if msg[0] == "samples" and msg[-1]:
            raise WaitbenchError(f"rank {msg[1]} failed: {msg[-1].strip().splitlines()[-1]}")
        if msg[0] == kind:
            return list(msg[1:])


def _collect(res: ModeResult, results: Any, procs: list[Any], within_s: float, quiet: bool = False) -> None:
    """Every rank's samples into ``res`` (a rank's error marks the result; ``quiet``: keep the status)."""
    limit = time.monotonic() + within_s
    while len(res.ranks) < len(procs) and time.monotonic() < limit:
        try:
            msg = results.get(timeout=0.2)
        except queue.Empty:
            if all(p.exitcode is not None for p in procs) and results.empty():
                break
            continue
        if msg[0] != "samples":
            continue
        _, rank, samples, end_ns, cals, error = msg
        res.ranks[rank] = samples
        res.calibrations[rank] = cals
        res.end_ns = end_ns or res.end_ns
        if error and not quiet and res.status == "ok":
            res.status, res.detail = "error", f"rank {rank}: {error.strip().splitlines()[-1]}"
    missing = sorted(set(range(len(procs))) - set(res.ranks))
    if missing and res.status == "ok":
        res.status, res.detail = "error", f"rank(s) {missing} sent no samples within {within_s:g} s"


def _end(procs: list[Any]) -> None:
    for p in procs:
        if p.pid is None:  # never started
            continue
        p.join(timeout=ABORT_GRACE_S)
        if p.exitcode is None:
            p.terminate()
            p.join(timeout=ABORT_GRACE_S)
