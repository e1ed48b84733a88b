# SPDX-License-Identifier: Apache-2.0
"""A research strategy's device kernel, run by the core's external waiter under watch.

The core arms, releases, times and bounds the wait exactly as for the built-ins; this layer adds
what a kernel written elsewhere needs: if it outlives its own deadline it is reported
(:class:`WaiterOverdue`) and aborted, and if it ignores the abort word too it is reported as stuck
(:class:`WaiterStuck`) and left alone, never waited for: the process would hang otherwise.
"""

from __future__ import annotations

import contextlib
import ctypes
from typing import Any

from .._native import host, require_gpu
from ..errors import WaitbenchError
from ..strategies import native_config
from .kernels import BoundKernel
from .protocol import check_native

OVERDUE_GRACE_S = 1.0  # policy: a waiter that honours its deadline has ended this long after it
ABORT_GRACE_S = 2.0  # policy: once the abort word is set, a waiter that honours it ends within this

_STUCK: list[Any] = []  # native waiters whose kernel never ended: never freed (see WaiterStuck)


class WaiterOverdue(WaitbenchError):
    """A research waiter outlived its deadline (``timeout_s``); it was aborted and has ended."""


class WaiterStuck(WaiterOverdue):
    """A research waiter outlived its deadline and ignored the abort word: its kernel still runs."""


class DeviceWaiter:
    """The native waiter interface (what :class:`waitbench.Waiter` drives) for a research kernel."""

    device_clock = True

    def __init__(self, spec: Any, opts: dict[str, Any], gpu: int) -> None:
        self._c = require_gpu(gpu)
        check_native(self._c)
        self.name, self.gpu = spec.name, gpu
        self.timeout_s = float(opts["timeout_s"])
        self.launch_shape = spec.launch.resolve(opts)
        self.bound = BoundKernel(spec.kernel, spec.name, spec.user_options(), opts, self.launch_shape, gpu)
        self.stuck = False
        self._stream = 0
        self._armed_ns = 0
        self._raw = self._c.external_waiter(native_config(spec, opts, gpu), self._launch)

    def _launch(self, words: dict[str, int]) -> None:
        self._stream = words["stream"]
        self.bound.launch(words)

    # -- the native waiter's interface ----------------------------------------------------------
    @property
    def armed(self) -> bool:
        """True while a wait is armed (never for a stuck kernel's waiter)."""
        return not self.stuck and self._raw.armed

    @property
    def closed(self) -> bool:
        """True once closed, or stuck (then it is never freed)."""
        return self.stuck or self._raw.closed

    def shape(self) -> dict[str, int]:
        """Launch shape, with the registers and static shared memory the compiled kernel uses."""
        s = self.launch_shape
        return {"blocks": s["blocks"], "threads": s["threads"], "pollers": s["pollers"],
                "regs_per_thread": self.bound.regs_per_thread,
                "smem_bytes": s["smem_bytes"] + self.bound.static_smem_bytes}

    def sm_ids(self) -> list[int]:
        """The SM each block of the last wait ran on."""
        return list(self._raw.sm_ids())

    def arm(self) -> None:
        """Launch the kernel and return once it is resident; a kernel that neither starts nor ends is stuck."""
        self._live()
        try:
            self._raw.arm()
        except WaitbenchError:
            if self._raw.armed and not self._ended(ABORT_GRACE_S):  # the core aborted it; did it end?
                self._give_up("did not become resident and did not end when aborted")
            raise
        self._armed_ns = host().now_ns()

    def release(self) -> int:
        """Write the release word; returns the host time of the release."""
        self._live()
        return self._raw.release()

    def abort(self) -> None:
        """Set the abort word (nothing for a stuck kernel: it ignores it)."""
        if not self.stuck:
            self._raw.abort()

    def wait(self, timeout_s: float) -> dict[str, Any]:
        """As the native wait, but never past the deadline plus a grace: then the waiter is overdue."""
        self._live()
        overdue_at = self._armed_ns + int((self.timeout_s + OVERDUE_GRACE_S) * 1e9)
        budget = min(timeout_s, max(0.0, (overdue_at - host().now_ns()) / 1e9))
        try:
            return self._raw.wait(budget)
        except WaitbenchError:
            if self._raw.armed and host().now_ns() >= overdue_at:
                self._overdue()
            raise

    def run_trials(self, n: int, gap_ns: int) -> dict[str, Any]:
        """The core's timed trial loop (waitbench.wake), with an overdue kernel reported as such."""
        self._live()
        try:
            return self._c.run_trials(self._raw, n, gap_ns)
        except WaitbenchError:
            if self._raw.armed:
                self._overdue()
            raise

    def close(self) -> None:
        """Free the native waiter (a stuck one is never freed)."""
        if not self.stuck and not self._raw.closed:
            self._raw.close()

    # -- an overdue kernel ----------------------------------------------------------------------
    def _live(self) -> None:
        if self.stuck:
            raise WaiterStuck(f"research strategy {self.name!r}: its kernel is still running from an earlier wait "
                              "(see the error raised then); this waiter cannot be used again")

    def _ended(self, within_s: float) -> bool:
        """Has the kernel left the GPU (its stream went idle) within ``within_s``?"""
        return not self._stream or bool(self._c.wait_stream_idle(self._stream, self.gpu, within_s))

    def _overdue(self) -> None:
        self._raw.abort()
        if not self._ended(ABORT_GRACE_S):
            self._give_up("outlived its deadline and did not end when aborted")
        # Collect the aborted wait, so the waiter can be armed or closed again; one that ended without its
        # ack raises, and close() will find it so.
        with contextlib.suppress(WaitbenchError):
            self._raw.wait(0.1)
        raise WaiterOverdue(
            f"research strategy {self.name!r} outlived its deadline: it was still waiting {OVERDUE_GRACE_S:g} s after "
            f"timeout_s={self.timeout_s:g} s and ended only once the abort word was set. A waiter must end by itself "
            "at its deadline (docs/PROTOCOL.md); its measurements are not usable")

    def _give_up(self, what: str) -> None:
        self.stuck = True
        _STUCK.append(self._raw)
        # Never freed, not even at exit: freeing its memory would wait behind the kernel.
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(self._raw))
        raise WaiterStuck(
            f"research strategy {self.name!r} {what} (timeout_s={self.timeout_s:g} s, abort waited "
            f"{ABORT_GRACE_S:g} s): its kernel ignores both its deadline and the abort word. The GPU stays occupied "
            "by it until this process exits (the driver frees it then); end the process to free the GPU")
