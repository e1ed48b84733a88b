# SPDX-License-Identifier: Apache-2.0
"""One wait of a strategy, from Python: arm -> (work behind it) -> release -> complete.

The native waiter does the waiting and timing; this class validates options against the strategy
table, owns the object the strategy creates for it (a native waiter for the built-ins, a research
strategy's own), and guarantees release: leaving a ``with`` block or an exception (Ctrl-C included)
aborts a wait that is still armed, so nothing stays resident on the GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import checks
from .errors import WaitExpired
from .strategies import resolve

WAIT_TIMEOUT_MAX_S = 7200.0  # a host wait for the outcome: the longest deadline (3600 s) plus margin


@dataclass(frozen=True)
class WaitOutcome:
    """How one wait ended, with the raw host/device timestamps the native core took."""

    status: str  # "released" | "expired" | "aborted"
    release_ns: int
    ack_ns: int
    wake_gt_ns: int
    host_observe_ns: int
    wait_cpu_ns: int
    wait_wall_ns: int

    @property
    def rtt_us(self) -> float | None:
        """Release -> host saw the GPU's ack (None unless released)."""
        return (self.ack_ns - self.release_ns) / 1e3 if self.status == "released" else None

    @property
    def host_cpu_pct(self) -> float | None:
        """CPU use of the host thread that waited, in percent of one core (host-side waits only)."""
        if self.wait_wall_ns <= 0 or self.wait_cpu_ns < 0:
            return None
        return 100.0 * self.wait_cpu_ns / self.wait_wall_ns


class Waiter:
    """A wait strategy instance on one GPU.

    Example::

        with waitbench.Waiter("nccl-shaped", preset="simple-16ch") as w:
            ...            # the GPU now holds an NCCL-shaped waiter
        # leaving the block released it and waited for it to finish

    Args:
        strategy: a name from :func:`waitbench.strategies`.
        gpu: CUDA device index.
        **options: the strategy's options (see ``waitbench strategies``); validated here.
    """

    def __init__(self, strategy: str, *, gpu: int = 0, **options: Any) -> None:
        self.spec, self.options = resolve(strategy, **options)
        self.gpu = checks.gpu_index("gpu", gpu)
        self._native = self.spec.create_waiter(self.options, gpu)

    @property
    def strategy(self) -> str:
        """The strategy's name."""
        return self.spec.name

    @property
    def source(self) -> str:
        """'builtin', 'registered' or 'plugin:<distribution>' (see waitbench.custom)."""
        return self.spec.source

    @property
    def host_wait_in_python(self) -> bool:
        """True for a research strategy that waits in Python on the host: its timings include the interpreter."""
        return self.spec.native == "python-host"

    @property
    def armed(self) -> bool:
        """True while a wait is armed."""
        return self._native.armed

    @property
    def device_clock(self) -> bool:
        """True when the waiter's observation time is a device %globaltimer reading."""
        return self._native.device_clock

    @property
    def shape(self) -> dict[str, Any]:
        """Launch shape of a device-resident waiter (empty for front-end and host waits)."""
        shape: dict[str, Any] = dict(self._native.shape())
        if shape:
            shape["sm_ids"] = list(self._native.sm_ids())
        return shape

    def arm(self) -> None:
        """Start waiting; returns once the waiter is resident (device) or waiting (stream, host)."""
        self._native.arm()

    def release(self) -> int:
        """Release the wait; returns the host time (``waitbench._host.now_ns``) of the release."""
        return self._native.release()

    def wait(self, timeout_s: float | None = None, *, check: bool = False) -> WaitOutcome:
        """Block until the wait ended.

        Args:
            timeout_s: how long to wait for the end (default: the strategy's deadline plus 5 s);
                WaitbenchError past it, the wait still going.
            check: raise :class:`WaitExpired` if the waiter reached its deadline before it was
                released, as ``subprocess.run(check=True)`` raises for a failed command; otherwise
                that is the outcome's ``status`` ('expired').
        """
        if timeout_s is None:
            timeout_s = float(self.options["timeout_s"]) + 5.0
        timeout_s = float(checks.number("timeout_s", timeout_s, 0.0, WAIT_TIMEOUT_MAX_S))
        out = WaitOutcome(**self._native.wait(timeout_s))
        if check and out.status == "expired":
            raise WaitExpired(f"{self.strategy!r} reached its deadline (timeout_s={self.options['timeout_s']:g} s) "
                              "before it was released")
        return out

    def abort(self) -> None:
        """End the wait now (its outcome will be 'aborted'); safe from any thread."""
        self._native.abort()

    def run_trials(self, n: int, gap_ns: int) -> dict[str, np.ndarray]:
        """``n`` timed arm -> ``gap_ns`` -> release -> wait trials in the strategy's own loop.

        The loop is C++ for every built-in, run with the calling thread and a host waiter's thread
        each pinned to its own physical core (as the floor harness, benchmarks/wake_floor.cu, runs
        its threads), then let go; the result is columns of raw timestamps and outcome codes
        (:mod:`waitbench.wake` reads them).
        """
        return self.spec.run_trials(self._native, n, gap_ns)

    def close(self) -> None:
        """Abort a wait still armed, collect it and free the native resources."""
        if not self._native.closed:
            self._native.close()

    def __enter__(self) -> Waiter:
        self.arm()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if self.armed:
                if exc_type is None:
                    self.release()
                else:
                    self.abort()
                self.wait()
        finally:
            self.close()

    def __del__(self) -> None:
        native = getattr(self, "_native", None)
        if native is not None and not native.closed:
            native.close()
