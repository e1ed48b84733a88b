# SPDX-License-Identifier: Apache-2.0
"""Types of waitbench._host, the host-only core (csrc/host_module.cpp: bind_clock.cpp, bind_barrier.cpp).

Hand-written; tests/test_native.py checks that it names exactly what the module exports (names with
a leading underscore are types of this stub only). Built on every install, CUDA or not.
"""

from __future__ import annotations

from typing import TypedDict

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
