# SPDX-License-Identifier: Apache-2.0
"""The barriers measured, behind one small interface: made in the parent, a party in every rank.

Why these: they are what servers line their rank processes up with before a collective.
``mp-barrier`` is LMDeploy's fix (PR #2607: ``multiprocessing.Barrier``, semaphores driven by Python
code); ``gloo-barrier`` is ``torch.distributed.barrier()`` on a gloo group (the CPU groups of
vLLM/SGLang-style servers); ``store-barrier`` is a TCPStore counter and a key wait (torch's own
store-based barrier: ``add`` then ``wait`` on the last worker's key); ``shm-futex`` is
:class:`waitbench.HostBarrier`, a futex in shared memory, spinning ``spin_us`` before it sleeps.

A :class:`Point` is picklable: the parent makes every point of a rank count before it spawns the
rank processes and hands them the list (multiprocessing's and our barriers can only be shared
that way, or by name).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..errors import invalid

KINDS = ("shm-futex", "mp-barrier", "gloo-barrier", "store-barrier")
NEEDS_TORCH = ("gloo-barrier", "store-barrier")
WAITS_IN_PYTHON = ("mp-barrier",)  # the barrier's own logic is Python code (records mark it)
HOST = "127.0.0.1"


@dataclass
class Point:
    """One measured barrier: its kind, rank count, options, and what a rank needs to join it."""

    kind: str
    ranks: int
    options: dict[str, Any]
    handle: Any  # mp.Barrier, HostBarrier, or the TCPStore port
    key: str  # unique per point: the store prefix of gloo/store kinds


class Party:
    """One rank's side of a barrier: ``wait()`` until every rank arrived, then ``close()``."""

    def wait(self) -> None:
        """Wait for every other party (each kind implements it)."""
        raise NotImplementedError

    def native_times(self) -> tuple[int, int] | None:
        """(release_ns, wake_ns) the barrier itself took in C++, where it takes them."""
        return None

    def close(self) -> None:
        """Free what this party holds (most kinds hold nothing)."""


class _Plain(Party):
    def __init__(self, barrier: Any, timeout_s: float) -> None:
        self.barrier, self.timeout_s = barrier, timeout_s

    def wait(self) -> None:
        self.barrier.wait(self.timeout_s)


class _Shm(_Plain):
    def wait(self) -> None:
        self.barrier.wait()  # its own timeout_s: the point's

    def native_times(self) -> tuple[int, int] | None:
        t = self.barrier.last_wait
        return (t.release_ns, t.wake_ns) if t is not None else None

    def close(self) -> None:
        self.barrier.close()


def _store(port: int, ranks: int, timeout_s: float, master: bool = False) -> Any:
    from torch.distributed import TCPStore

    return TCPStore(HOST, port, ranks, master, timedelta(seconds=timeout_s), wait_for_workers=False)


class _StoreBarrier(Party):
    """torch's store-based barrier: a counter per round, and a key the last rank sets.

    Each rank adds 1 to the round's counter; the last sets the round's key, which the others wait on
    (the store server answers them when it is set).
    """

    def __init__(self, store: Any, key: str, ranks: int, timeout_s: float) -> None:
        self.store, self.key, self.ranks, self.timeout = store, key, ranks, timedelta(seconds=timeout_s)
        self.round = 0

    def wait(self) -> None:
        self.round += 1
        key = f"{self.key}/{self.round}"
        if self.store.add(key, 1) == self.ranks:
            self.store.set(key + "/go", "1")
        else:
            self.store.wait([key + "/go"], self.timeout)


class _Gloo(Party):
    def __init__(self, store: Any, key: str, rank: int, ranks: int, timeout_s: float) -> None:
        import torch.distributed as dist

        self.dist = dist
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # every rank is on this host: no name lookup
        dist.init_process_group("gloo", store=dist.PrefixStore(key, store), rank=rank, world_size=ranks,
                                timeout=timedelta(seconds=timeout_s))

    def wait(self) -> None:
        self.dist.barrier()

    def close(self) -> None:
        self.dist.destroy_process_group()


class Maker:
    """Makes the points of one rank count in the parent; holds the TCPStore server they share."""

    def __init__(self, ranks: int, timeout_s: float, context: Any) -> None:
        self.ranks, self.timeout_s, self.context = ranks, timeout_s, context
        self._server: Any = None
        self._made = 0

    def point(self, kind: str, **options: Any) -> Point:
        """A new barrier of ``kind`` for the group's ranks, with its handle for the parent."""
        if kind not in KINDS:
            raise invalid("kind", kind, "one of " + ", ".join(KINDS))
        self._made += 1
        key = f"{kind}-{self.ranks}-{self._made}"
        if kind == "mp-barrier":
            handle: Any = self.context.Barrier(self.ranks)
        elif kind == "shm-futex":
            from ..barrier import HostBarrier

            handle = HostBarrier(None, self.ranks, timeout_s=self.timeout_s, spin_us=options["spin_us"])
        else:
            if self._server is None:
                self._server = _store(0, self.ranks, self.timeout_s, master=True)
            handle = self._server.port
        return Point(kind, self.ranks, dict(options), handle, key)

    def party(self, point: Point) -> Party:
        """The parent's own party (rank 0): it reuses the store server instead of a client."""
        return join(point, 0, self.timeout_s, server=self._server)

    def close(self, points: list[Point]) -> None:
        """Free the barriers of ``points`` and the manager process, if one was started."""
        for p in points:
            if p.kind == "shm-futex":
                p.handle.close()
        self._server = None


def join(point: Point, rank: int, timeout_s: float, server: Any = None) -> Party:
    """Rank ``rank``'s party of ``point`` (in the rank's own process)."""
    if point.kind == "mp-barrier":
        return _Plain(point.handle, timeout_s)
    if point.kind == "shm-futex":
        return _Shm(point.handle, timeout_s)
    store = server if server is not None else _store(point.handle, point.ranks, timeout_s)
    if point.kind == "store-barrier":
        return _StoreBarrier(store, point.key, point.ranks, timeout_s)
    return _Gloo(store, point.key, rank, point.ranks, timeout_s)
