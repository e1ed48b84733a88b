# SPDX-License-Identifier: Apache-2.0
"""Rank processes die with their parent: a killed benchmark leaves no rank behind.

``daemon=True`` only helps when the parent exits through Python; after SIGKILL (or SIGTERM, whose
default action skips Python's exit handlers) its rank processes would live on, waiting on a barrier
nobody will release. The kernel's parent-death signal covers every way the parent can end.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int, *, ignore_sigint: bool = True) -> None:
    """Arm SIGKILL for when the parent dies, then exit if it already has (the race prctl leaves open).

    With ``ignore_sigint`` a rank leaves Ctrl-C (sent to the whole foreground process group) to the
    parent, which stops the run, releases the ranks and keeps what was written.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
    if os.getppid() != parent_pid:  # the parent died before the signal was armed: nobody will release us
        os._exit(1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a fork()ed rank inherits its parent's handler
    if ignore_sigint:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # held since start-up: dropped now


@contextlib.contextmanager
def children_start_without_sigint() -> Iterator[None]:
    """Processes started inside begin with SIGINT blocked (the mask passes through fork and exec).

    A rank arms :func:`die_with_parent` (which ignores SIGINT, then unblocks it) only once its target
    runs; a Ctrl-C while it is still starting would print its traceback. This thread blocks SIGINT
    meanwhile, and this process's handlers only note a Ctrl-C or SIGTERM (another thread, such as a
    BLAS worker's, may still take the signal, and an exception raised inside fork()'s own hooks would
    be swallowed): it is raised once every start is done, never halfway through one.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: noted.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if signal.SIGTERM in noted:
        raise Terminated
    if noted:
        raise KeyboardInterrupt


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be: the same clean-up, exit status 143."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


def stop_on_sigterm() -> None:
    """Make SIGTERM unwind this process like Ctrl-C (ranks released, results kept) instead of killing it.

    Ctrl-C gets Python's own handler back too (a script may have set its own for its start-up).
    """
    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def interrupted_exit(tool: str, exc: KeyboardInterrupt, kept: str) -> int:
    """Say in one line that ``tool`` was stopped and what was kept; the exit status (130, or 143 for SIGTERM)."""
    import sys

    what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted (Ctrl-C)"
    print(f"{tool}: {what}; {kept}", file=sys.stderr, flush=True)
    return 143 if isinstance(exc, Terminated) else 130


def await_start(procs: Sequence[Any], ready: Any, offset: int = 0, timeout_s: float = 10.0) -> None:
    """Until each started process has reached its target (it set ``ready[i + offset]``) or has exited.

    Why: a spawned rank unpickles its arguments (barriers, by name) before its target runs; a parent
    that closes them first, on its way out after Ctrl-C, fails the rank there, with a traceback no
    ``try`` of its own can catch. Bounded: a rank stuck in start-up is left to terminate().
    """
    limit = time.monotonic() + timeout_s
    for i, p in enumerate(procs):
        while p.pid is not None and p.exitcode is None and not ready[i + offset] and time.monotonic() < limit:
            time.sleep(0.01)
