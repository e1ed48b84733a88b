# SPDX-License-Identifier: Apache-2.0
"""HostBarrier: a cross-process barrier for a rank loop, a drop-in for ``multiprocessing.Barrier``.

Why: LMDeploy's fix for the idle 100%-busy GPU (PR #2607) lines the rank processes up on the host,
with a ``multiprocessing.Barrier``, before the collective, so nothing spins on the GPU while a rank
is late. The price is a process wake-up per round; this barrier pays the least of the ones measured
(``benchmarks/barrier_latency.py``): a futex in POSIX shared memory, woken in C++ with the GIL
released, a bounded spin before sleeping, and no Python on the wake path.

Ranks: a rank is a slot of the segment held by one handle. A handle opened by name
(:meth:`HostBarrier.open`) or received pickled (the spawn start method pickles ``Process``
arguments) takes its slot at once; the creating handle takes one at its first ``wait()``, or at
construction if ``rank`` is given. From then on the slot names the holder's pid and start time, so
it never hangs: every wait has a deadline, ``abort()`` releases every waiter, and within 0.2 s of
a fault every waiter raises :class:`waitbench.errors.BarrierBroken` (a
``threading.BrokenBarrierError``) naming the rank and pid: a holder that died (before its first
wait, while waiting, after arriving, between rounds, during close), one that closed its handle
(it will not arrive again), or a creator that died without closing. A timeout names the ranks that
did not arrive. The barrier stays broken, as ``threading.Barrier``'s does, until :meth:`reset`; a
dead holder's slot is never silently taken by another process. A stopped process (SIGSTOP) is
alive: it is late, not dead, and is left to the deadline.

Lifetime: the process that constructs a ``HostBarrier`` creates the segment ``/dev/shm/waitbench.NAME``
(mode 0600, complete before its name appears; a name whose creator is dead is taken over, by exactly
one of several creators) and removes it at ``close()``, at the end of a ``with`` block, when the
object is collected, at exit, or (killed with SIGKILL) through Python's resource tracker once its
process tree is gone. A ``fork()``ed copy never removes it. Other processes only map it: :meth:`open`
refuses a segment of another user, writable by others, or of the wrong size, magic, version or
party count.
"""

from __future__ import annotations

import os
import re
import uuid
import weakref
from dataclasses import dataclass
from typing import Any

from ._native import host
from .errors import BarrierBroken, invalid

DEFAULT_TIMEOUT_S = 86_400.0  # an idle server's ranks wait for the next request; dead ranks are caught anyway
MAX_TIMEOUT_S = 365 * 86_400.0
# Ranks of a busy server arrive within microseconds of each other: a short spin releases them without a
# futex sleep and wake-up; an idle rank pays at most this much CPU per wait. Spinning only pays while
# every rank has a core (benchmarks/results/cpu-2core: 8 ranks on 2 cores wake slower spinning).
DEFAULT_SPIN_US = 50
MAX_SPIN_US = 1_000_000
NAME_PREFIX = "waitbench."
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
_REASONS = {1: "timeout", 2: "aborted", 3: "rank-died", 4: "interrupted", 5: "rank-left", 6: "reset"}


@dataclass(frozen=True)
class WaitTimes:
    """C++ timestamps (CLOCK_MONOTONIC, ns: comparable across processes) of one completed wait."""

    index: int
    generation: int
    release_ns: int  # when the last party arrived and released everyone
    wake_ns: int  # when this party saw the release
    cpu_ns: int  # CPU time of the waiting thread inside wait()
    wall_ns: int


def _check_timeout(argument: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.001 <= value <= MAX_TIMEOUT_S:
        raise invalid(argument, value, f"seconds in [0.001, {MAX_TIMEOUT_S:g}]")
    return float(value)


def _check_spin(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SPIN_US:
        raise invalid("spin_us", value, f"an int in [0, {MAX_SPIN_US}] (microseconds to spin before sleeping)")
    return value


def _check_name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise invalid("name", value, "1 to 100 letters, digits, '.', '_' or '-' (or None for a unique one)")
    return value


def _remove(shm_name: str, tracked: list[bool], creator_pid: int) -> None:
    """Remove the segment's name and tell the resource tracker, once, and only in the creating process.

    A fork()ed child shares the parent's resource tracker: its UNREGISTER would be the parent's
    KeyError later, and its unlink would remove the parent's live barrier. The C++ side checks too
    (it removes only a segment whose recorded creator is this process).
    """
    if os.getpid() != creator_pid:
        return
    host().SharedBarrier.unlink(shm_name)
    if tracked[0]:
        from multiprocessing import resource_tracker

        resource_tracker.unregister("/" + shm_name, "shared_memory")
        tracked[0] = False


def _close(handle: Any, shm_name: str | None, tracked: list[bool], creator_pid: int) -> None:
    """Unmap, and remove the segment if this process created it (weakref.finalize: must not hold self)."""
    handle.close()
    if shm_name is not None:
        _remove(shm_name, tracked, creator_pid)


class HostBarrier:
    """A barrier for ``parties`` processes (or threads, one handle each), named ``name``.

    Args:
        name: 1 to 100 letters, digits, '.', '_' or '-'; None picks a unique one (pass the barrier to
            the other processes pickled, then).
        parties: processes that must call :meth:`wait` before any is released, in [1, 256].
        timeout_s: deadline of each wait unless :meth:`wait` is given one. The default (a day) suits
            an idle server's rank loop; a dead rank is noticed within a second whatever it is.
        spin_us: microseconds a waiter spins before it sleeps on the futex (0: sleep at once).
        rank: the rank this handle waits as (named in errors), in [0, parties), taken now; None takes
            the lowest free one at the first wait (the creator need not be a party: a parent that
            only spawns the ranks never waits).

    Example (one process creates it; spawned children get it as an argument)::

        barrier = waitbench.HostBarrier("tp-job-7", world_size)
        ...
        barrier.wait()      # in each rank's loop, before the broadcast of the next request
    """

    def __init__(self, name: str | None, parties: int, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 spin_us: int = DEFAULT_SPIN_US, rank: int | None = None) -> None:
        name = f"auto-{os.getpid()}-{uuid.uuid4().hex[:12]}" if name is None else _check_name(name)
        if isinstance(parties, bool) or not isinstance(parties, int) or not 1 <= parties <= _max_parties():
            raise invalid("parties", parties, f"an int in [1, {_max_parties()}]")
        self._setup(name, _check_timeout("timeout_s", timeout_s), _check_spin(spin_us))
        shm = NAME_PREFIX + name
        try:  # a name left by a dead creator is taken over in C++, atomically
            handle = host().SharedBarrier.create(shm, parties)
        except FileExistsError as exc:
            pid, _ = host().SharedBarrier.creator(shm)
            held = f"pid {pid} created /dev/shm/{shm}; open it with HostBarrier.open" if pid else exc.strerror
            raise invalid("name", name, f"a name no live barrier uses ({held})") from None
        self._creator_pid = os.getpid()
        try:  # a Ctrl-C here (the tracker's first use starts a process) must not leave the segment behind
            from multiprocessing import resource_tracker

            resource_tracker.register("/" + shm, "shared_memory")  # removed even if this process is killed
            self._tracked[0] = True
        except BaseException:
            handle.close()
            host().SharedBarrier.unlink(shm)
            raise
        self._attach(handle, owner=True, rank=rank)

    @classmethod
    def open(cls, name: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, spin_us: int = DEFAULT_SPIN_US,
             rank: int | None = None) -> HostBarrier:
        """Open the barrier another process created and take a rank now (``rank``, or the lowest free one).

        Raises FileNotFoundError if there is none; PermissionError if another user owns it or others
        may write it; ValueError if it is not a valid barrier, or every rank is held.
        """
        self = cls.__new__(cls)
        self._setup(_check_name(name), _check_timeout("timeout_s", timeout_s), _check_spin(spin_us))
        self._attach(host().SharedBarrier.open(NAME_PREFIX + name), owner=False, rank=rank)
        return self

    def _setup(self, name: str, timeout_s: float, spin_us: int) -> None:
        self.name, self.timeout_s, self.spin_us = name, timeout_s, spin_us
        self._spin_ns = spin_us * 1000
        self._last: tuple[int, ...] | None = None
        self._tracked = [False]  # registered with multiprocessing's resource tracker (creator only)
        self._creator_pid = 0  # the process that created the segment (0: opened); only it removes it

    def _attach(self, handle: Any, *, owner: bool, rank: int | None) -> None:
        self._native = handle
        self._parties = int(handle.parties)
        self.owner = owner
        self._finalizer = weakref.finalize(self, _close, handle, NAME_PREFIX + self.name if owner else None,
                                           self._tracked, self._creator_pid)
        n = self._parties
        try:
            if rank is None:
                if not owner:
                    handle.claim(-1)  # an opener is a party from now: its death is noticed before it waits
            elif isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < n:
                raise invalid("rank", rank, f"an int in [0, {n - 1}] (parties={n}), or None")
            else:
                handle.claim(rank)  # ValueError if a process holds it (or held it: reset() frees it)
        except BaseException:
            self.close()
            raise

    # -- the multiprocessing.Barrier interface ----------------------------------------------------

    def wait(self, timeout: float | None = None) -> int:
        """Wait until every party has arrived; return this party's arrival index in [0, parties).

        ``timeout`` (seconds) overrides ``timeout_s`` for this wait. Raises BarrierBroken on a
        timeout (naming the ranks that did not arrive), an abort, a dead or interrupted rank.
        """
        t = self.timeout_s if timeout is None else _check_timeout("timeout", timeout)
        r = self._native.wait(int(t * 1e9), self._spin_ns)  # (status, index, generation, release, wake, cpu, wall)
        if r[0]:
            raise self._error(r[0], t)
        self._last = r
        return r[1]

    @property
    def last_wait(self) -> WaitTimes | None:
        """The C++ timestamps of this handle's last completed wait (None before one)."""
        return None if self._last is None else WaitTimes(*self._last[1:])

    def abort(self) -> None:
        """Break the barrier: every waiter, now and later, raises BarrierBroken (reason 'aborted')."""
        self._native.abort()

    def reset(self) -> None:
        """As ``multiprocessing.Barrier.reset()``: back to the empty, unbroken state.

        Parties waiting now raise BarrierBroken (reason 'reset'); ranks held by dead processes or
        closed handles become free, so restarted processes can open the barrier again.
        """
        self._native.reset()

    @property
    def parties(self) -> int:
        """Processes that must arrive before the barrier releases them."""
        return self._parties

    @property
    def n_waiting(self) -> int:
        """Parties that have arrived for the current round."""
        return int(self._native.n_waiting)

    @property
    def broken(self) -> bool:
        """True once a party timed out, was interrupted or died: every wait then raises."""
        return self._native.broken()["reason"] != 0

    @property
    def rank(self) -> int | None:
        """The rank this handle holds (None for a creating handle before its first wait without ``rank``)."""
        r = int(self._native.rank)
        return None if r < 0 else r

    @property
    def closed(self) -> bool:
        """True once this handle was closed."""
        return bool(self._native.closed)

    @property
    def path(self) -> str:
        """Where the segment lives: ``/dev/shm/waitbench.NAME``."""
        return f"/dev/shm/{NAME_PREFIX}{self.name}"

    # -- lifetime ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Unmap this handle and free its rank; the creating process also removes the segment."""
        self._finalizer()

    def unlink(self) -> None:
        """Remove the name now (open handles keep working); only the creating process may."""
        if not self.owner or os.getpid() != self._creator_pid:
            raise invalid("unlink", self.name, "a barrier this process created (it only opened it, or is a fork)")
        _remove(NAME_PREFIX + self.name, self._tracked, self._creator_pid)

    def __enter__(self) -> HostBarrier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled, a HostBarrier re-opens by name and takes a rank of its own when unpickled."""
        return (_reopen, (self.name, self.timeout_s, self.spin_us))

    def __repr__(self) -> str:
        return (f"HostBarrier({self.name!r}, parties={self.parties}, timeout_s={self.timeout_s:g}, "
                f"spin_us={self.spin_us})")

    def _error(self, status: int, timeout_s: float) -> BarrierBroken:
        info = self._native.broken()
        reason = _REASONS.get(status if status == 6 else info["reason"] or status, "aborted")
        pids = info["pids"]

        def who(r: int) -> str:
            return f"rank {r} (pid {pids[r]})" if pids[r] else f"rank {r} (no process has joined)"

        gen, by = info["generation"], info["by_rank"]
        missing = list(info["missing"])
        absent = ", ".join(who(r) for r in missing) or "none"
        head = f"HostBarrier {self.name!r}"
        if reason == "timeout":
            text = (f"{head}: round {gen} timed out (rank {by}'s deadline, timeout_s={timeout_s:g} for this wait); "
                    f"did not arrive: {absent}")
        elif reason == "rank-died":
            rank = info["dead_rank"]
            party = f"rank {rank}" if rank >= 0 else "the creating process"
            text = (f"{head}: {party} (pid {info['dead_pid']}) exited or was killed while the "
                    f"others waited at round {gen}; did not arrive: {absent}")
        elif reason == "rank-left":
            text = (f"{head}: rank {info['dead_rank']} (pid {info['dead_pid']}) closed its handle and will not "
                    f"arrive at round {gen}; did not arrive: {absent}")
        elif reason == "reset":
            text = f"{head} was reset while this rank waited at round {gen}"
        elif reason == "interrupted":
            text = f"{head}: rank {by} was interrupted (Ctrl-C) at round {gen} and left; did not arrive: {absent}"
        else:
            text = f"{head} was aborted" + (f" by rank {by}" if by >= 0 else "") + f" at round {gen}"
        dead = info["dead_rank"] if reason in ("rank-died", "rank-left") else None
        return BarrierBroken(text, reason=reason, generation=gen, missing=missing, dead_rank=dead,
                             dead_pid=info["dead_pid"] if dead is not None else None)


def _max_parties() -> int:
    return int(host().BARRIER_MAX_PARTIES)


def _reopen(name: str, timeout_s: float, spin_us: int) -> HostBarrier:
    return HostBarrier.open(name, timeout_s=timeout_s, spin_us=spin_us)
