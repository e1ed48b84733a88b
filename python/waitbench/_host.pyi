# SPDX-License-Identifier: Apache-2.0
"""Types of waitbench._host, the host-only core (csrc/host_module.cpp: bind_clock, bind_barrier, bind_dispatch).

Hand-written; tests/test_native.py checks that it names exactly what the module exports (names with
a leading underscore are types of this stub only). Built on every install, CUDA or not.
"""

from __future__ import annotations

from typing import ClassVar, TypedDict

import numpy as np
import numpy.typing as npt

# ---- the host clock (bind_clock.cpp) -----------------------------------------------------------------

def now_ns() -> int:
    """Host CLOCK_MONOTONIC in ns: the clock of every host timestamp waitbench takes."""

# ---- the cross-process barrier (bind_barrier.cpp) -------------------------------------------------
BARRIER_MAX_PARTIES: int

class _BarrierBrokenInfo(TypedDict):
    reason: int  # 0: not broken; 1 timeout, 2 aborted, 3 rank died, 4 interrupted, 5 rank left
    by_rank: int
    generation: int
    dead_rank: int
    dead_pid: int
    missing: list[int]
    pids: list[int]

class SharedBarrier:
    """A cross-process futex barrier in POSIX shared memory."""

    @staticmethod
    def create(name: str, parties: int) -> SharedBarrier: ...
    @staticmethod
    def open(name: str) -> SharedBarrier: ...
    @staticmethod
    def unlink(name: str) -> bool:
        """Remove the name if this process created the segment it names; False if nothing was removed."""
    @staticmethod
    def creator(name: str) -> tuple[int, bool]:
        """(pid of the process that created barrier `name`, whether it is alive); (0, False) if none."""
    def claim(self, rank: int) -> int: ...
    def wait(self, timeout_ns: int, spin_ns: int) -> tuple[int, int, int, int, int, int, int]:
        """Arrive and wait (GIL released): (status, index, generation, release_ns, wake_ns, cpu_ns, wall_ns)."""
    def abort(self) -> None: ...
    def reset(self) -> None: ...
    def broken(self) -> _BarrierBrokenInfo: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def parties(self) -> int: ...
    @property
    def rank(self) -> int: ...
    @property
    def n_waiting(self) -> int: ...

class _Enum:
    """A pybind11 enum: members are class attributes; ``__members__`` maps their names to them."""

    def __init__(self, value: int) -> None: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __hash__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

# ---- the dispatch benchmark (bind_dispatch.cpp; its forward kernel is in waitbench._C) ------------
class _CpuWaitSupport(TypedDict):
    available: bool
    reason: str

class RingWait(_Enum):
    """How a rank waits on the dispatch ring (csrc/dispatch_ring.hpp)."""

    __members__: ClassVar[dict[str, RingWait]]
    YIELD: ClassVar[RingWait]
    SLEEP: ClassVar[RingWait]
    FUTEX: ClassVar[RingWait]
    PAUSE: ClassVar[RingWait]
    MWAITX: ClassVar[RingWait]
    UMWAIT: ClassVar[RingWait]
    ADAPTIVE: ClassVar[RingWait]

class DispatchRing:
    """Rank 0 hands each request to every rank through POSIX shared memory /dev/shm/NAME."""

    def __init__(self, name: str, ranks: int, create: bool) -> None: ...
    @property
    def ranks(self) -> int: ...
    @property
    def aborted(self) -> bool: ...
    def unlink(self) -> None: ...
    def publish(self, seq: int, arrival_ns: int) -> int: ...
    def wait(self, seq: int, how: RingWait, param: int, timeout_s: float) -> tuple[int, int, int, int, int, int, int]:
        """(outcome, recv_ns, arrival_ns, cpu_ns, wall_ns, woke_cpu, off_cpu) of one wait for request seq."""
    def ack(self, rank: int, seq: int) -> None: ...
    def wait_acks(self, seq: int, sender: int, timeout_s: float) -> int:
        """Until every rank but `sender` acked seq (GIL released); the time the last ack was seen."""
    def sleep_until(self, t_ns: int) -> bool: ...
    def abort(self) -> None: ...

def mwaitx_support() -> _CpuWaitSupport: ...
def umwait_support() -> _CpuWaitSupport: ...
def cpu_model() -> str: ...
def handoff_floor(n: int, gap_ns: int, timeout_s: float) -> dict[str, npt.NDArray[np.int64]]:
    """Same-process hand-offs, n of them: {'arrival_ns', 'recv_ns'}, timed in C++."""
