# SPDX-License-Identifier: Apache-2.0
"""Host-side research waiters written in Python, behind the native waiter interface.

A persistent thread (one per waiter, reused across waits, as the built-in host waiters do) calls
the strategy's wait function, then enqueues the work (a small device copy) on the GPU. Every
timing includes the interpreter: a thread that waits in Python holds the GIL, and the thread that
releases it may wait up to ``sys.getswitchinterval()`` (5 ms by default) to run. Records mark these
strategies ``host_wait_in_python``; docs/PROTOCOL.md shows the C++ route for us-accurate host waits.
Their wake-up trials (:meth:`PythonHostWaiter.run_trials`) run in Python too, for the same reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .._native import require_gpu
from ..errors import WaitbenchError, invalid
from .guard import ABORT_GRACE_S, OVERDUE_GRACE_S, WaiterOverdue, WaiterStuck

WORK_BYTES = 16384  # the work enqueued after a released wait: the smallest copy the core's memcpy takes
ARM_TIMEOUT_S = 5.0
WAIT_MARGIN_S = 5.0  # a trial waits for its outcome this long past the deadline, as waitbench.Waiter.wait does
OUTCOMES = ("released", "expired", "aborted")


class HostWaitContext:
    """What a Python host wait is given: the release, abort and deadline of one wait.

    A wait function polls :meth:`released` (sleeping or yielding as its strategy says), or blocks in
    :meth:`wait_released`, and returns 'released', or 'expired' at its deadline, or 'aborted'.
    """

    def __init__(self, waiter: PythonHostWaiter, gen: int, deadline_ns: int) -> None:
        self._w, self.gen, self.deadline_ns = waiter, gen, deadline_ns

    @staticmethod
    def now_ns() -> int:
        """Host time, on the clock of every waitbench timestamp (CLOCK_MONOTONIC)."""
        return time.monotonic_ns()

    def released(self) -> bool:
        """True once this wait was released."""
        return self._w._released_gen >= self.gen

    def aborted(self) -> bool:
        """True once this wait was aborted."""
        return self._w._aborted

    def expired(self) -> bool:
        """True past this wait's deadline."""
        return time.monotonic_ns() > self.deadline_ns

    def wait_released(self, timeout_s: float | None = None) -> bool:
        """Block until released or aborted (or ``timeout_s``, or the deadline); True if released."""
        left = max(0.0, (self.deadline_ns - time.monotonic_ns()) / 1e9)
        self._w._wake.wait(left if timeout_s is None else min(timeout_s, left))
        return self.released()


class PythonHostWaiter:
    """The native waiter interface for a Python host-side wait (see the module docstring)."""

    device_clock = False

    def __init__(self, spec: Any, opts: dict[str, Any], gpu: int) -> None:
        self._c = require_gpu(gpu)
        self.name, self.gpu = spec.name, gpu
        self.timeout_s = float(opts["timeout_s"])
        self._fn: Callable[..., str] = spec.host_wait
        self._kwargs = {o.name: opts[o.name] for o in spec.user_options()}
        self._work = self._c.Workload("memcpy", gpu, WORK_BYTES)
        self._stream = self._c.Stream(gpu)
        self._gen = 0
        self._released_gen = 0
        self._aborted = False
        self._armed = False
        self._closed = False
        self._armed_ns = 0
        self._release_ns = 0
        self._wake = threading.Event()  # set by release and abort: wait_released() blocks on it
        self._waiting = threading.Event()
        self._done = threading.Event()
        self._start = threading.Condition()
        self._pending = 0  # generation to wait for next; 0 none, -1 stop the thread
        self._result: dict[str, Any] | BaseException = {}
        self._thread = threading.Thread(target=self._loop, name=f"waitbench-{spec.name}", daemon=True)
        self._thread.start()

    @property
    def armed(self) -> bool:
        """True from arm() until the outcome was collected by wait()."""
        return self._armed

    @property
    def closed(self) -> bool:
        """True once closed (or its thread is stuck in the wait function)."""
        return self._closed

    def shape(self) -> dict[str, int]:
        """No launch shape: nothing waits on the GPU."""
        return {}

    def sm_ids(self) -> list[int]:
        """No SM ids: nothing waits on the GPU."""
        return []

    # -- the waiting thread -------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._start:
                self._start.wait_for(lambda: self._pending != 0)
                gen, self._pending = self._pending, 0
            if gen < 0:
                return
            self._result = self._one_wait(gen)
            self._done.set()

    def _one_wait(self, gen: int) -> dict[str, Any] | BaseException:
        ctx = HostWaitContext(self, gen, time.monotonic_ns() + int(self.timeout_s * 1e9))
        c0, t0 = time.thread_time_ns(), time.monotonic_ns()
        self._waiting.set()
        try:
            status = self._fn(ctx, **self._kwargs)
            observe = time.monotonic_ns()
            cpu, wall = time.thread_time_ns() - c0, observe - t0
            if status not in OUTCOMES:
                raise invalid(f"the return value of {self.name!r}'s wait function", status, "one of " +
                              ", ".join(OUTCOMES))
            if status == "released" and not ctx.released():
                raise WaitbenchError(f"{self.name!r}'s wait function returned 'released' before the release")
            if status == "released":
                self._work.enqueue(self._stream.handle, 1)  # the work the wait was holding back
        except BaseException as exc:  # noqa: BLE001 - handed to the thread that calls wait()
            return exc
        return {"status": status, "host_observe_ns": observe, "wait_cpu_ns": cpu, "wait_wall_ns": wall}

    # -- the native waiter's interface ----------------------------------------------------------
    def arm(self) -> None:
        """Start one wait in the waiting thread; returns once its wait function runs."""
        if self._closed:
            raise WaitbenchError("the waiter is closed")
        if self._armed:
            raise WaitbenchError("the waiter is already armed: release or abort it, then wait(), before arming again")
        self._gen += 1
        self._aborted = False
        self._wake.clear()
        self._waiting.clear()
        self._done.clear()
        self._release_ns = 0
        with self._start:
            self._pending = self._gen
            self._start.notify()
        self._armed = True
        if not self._waiting.wait(ARM_TIMEOUT_S):
            raise WaiterStuck(f"research strategy {self.name!r}: its waiting thread did not start within "
                              f"{ARM_TIMEOUT_S:g} s (is an earlier wait still running in it?)")
        self._armed_ns = time.monotonic_ns()

    def release(self) -> int:
        """Release the wait; returns the host time of the release."""
        if not self._armed:
            raise WaitbenchError("release() before arm(): nothing is waiting")
        self._release_ns = time.monotonic_ns()
        self._released_gen = self._gen
        self._wake.set()
        return self._release_ns

    def abort(self) -> None:
        """End the wait now; safe from any thread."""
        self._aborted = True
        self._wake.set()

    def wait(self, timeout_s: float) -> dict[str, Any]:
        """The outcome of the armed wait, with the native waiter's timestamps (ack: the work after it ran)."""
        if not self._armed:
            raise WaitbenchError("wait() before arm(): nothing is waiting")
        overdue_at = self._armed_ns + int((self.timeout_s + OVERDUE_GRACE_S) * 1e9)
        budget = min(timeout_s, max(0.0, (overdue_at - time.monotonic_ns()) / 1e9))
        if not self._done.wait(budget):
            if time.monotonic_ns() < overdue_at:
                raise WaitbenchError(f"the wait did not end within {timeout_s} s")
            self.abort()
            ended = self._done.wait(ABORT_GRACE_S)
            self._armed = not ended
            self._closed = not ended  # the thread is inside the user's function: it cannot be stopped
            raise (WaiterOverdue if ended else WaiterStuck)(
                f"research strategy {self.name!r} (a Python host wait) outlived its deadline (timeout_s="
                f"{self.timeout_s:g} s + {OVERDUE_GRACE_S:g} s) and " + (
                    "ended only once aborted: its wait function must return 'expired' at ctx.deadline_ns" if ended
                    else f"did not return within {ABORT_GRACE_S:g} s of the abort: its thread stays blocked in the "
                    "wait function until it returns (no GPU is held)"))
        self._armed = False
        r = self._result
        if isinstance(r, BaseException):
            raise r
        ack = time.monotonic_ns()
        if r["status"] == "released":
            ack = self._c.wait_stream_idle(self._stream.handle, self.gpu, max(timeout_s, 1.0))
            if not ack:
                raise WaitbenchError(f"the work queued after {self.name!r}'s host wait did not finish")
        return {"release_ns": self._release_ns, "ack_ns": ack, "wake_gt_ns": 0, **r}

    def close(self) -> None:
        """Abort a wait still armed, collect it and stop the waiting thread."""
        if self._closed:
            return
        if self._armed:
            self.abort()
            try:
                self.wait(self.timeout_s + OVERDUE_GRACE_S)
            except WaitbenchError:
                return  # reported; the daemon thread ends with the process
        self._closed = True
        with self._start:
            self._pending = -1
            self._start.notify()
        self._thread.join(timeout=ABORT_GRACE_S)

    # -- wake-up trials (waitbench.wake) ----------------------------------------------------------
    # The wait runs in Python, so the trial loop may as well: arm -> gap -> release -> wait, the same
    # steps and timestamps as the core's loop (host clock CLOCK_MONOTONIC), with the interpreter (GIL
    # hand-offs of up to sys.getswitchinterval()) inside every figure. Records mark them so.
    def run_trials(self, n: int, gap_ns: int) -> dict[str, np.ndarray]:
        """The core's ``run_trials``, in Python: ``n`` timed trials, the same columns and outcome codes."""
        codes = {"released": self._c.OUTCOME_RELEASED, "expired": self._c.OUTCOME_EXPIRED,
                 "aborted": self._c.OUTCOME_ABORTED}
        keys = ("release_ns", "ack_ns", "wake_gt_ns", "host_observe_ns", "wait_cpu_ns", "wait_wall_ns")
        cols: dict[str, list[int]] = {k: [] for k in (*keys, "outcome")}
        for _ in range(n):
            self.arm()
            until = time.monotonic_ns() + gap_ns
            while time.monotonic_ns() < until:
                pass
            self.release()
            out = self.wait(self.timeout_s + WAIT_MARGIN_S)
            for k in keys:
                cols[k].append(out[k])
            cols["outcome"].append(codes[out["status"]])
        return {k: np.asarray(v, dtype=np.int64) for k, v in cols.items()}
