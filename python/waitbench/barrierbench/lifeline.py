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
from collections.abc import Iterator

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
    if ignore_sigint:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def children_ignore_sigint() -> Iterator[None]:
    """Processes started inside inherit SIGINT ignored from their first instruction (through exec).

    A rank arms :func:`die_with_parent` only once its target runs; a Ctrl-C while it is still
    starting would print its traceback. Ignored here, SIGINT stays ignored in it (Python installs no
    handler for a signal ignored at start-up). This process ignores Ctrl-C only while it starts them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be: the same clean-up, exit status 143."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


def stop_on_sigterm() -> None:
    """Make SIGTERM unwind this process like Ctrl-C (ranks released, results kept) instead of killing it."""
    signal.signal(signal.SIGTERM, _terminated)


def interrupted_exit(tool: str, exc: KeyboardInterrupt, kept: str) -> int:
    """Say in one line that ``tool`` was stopped and what was kept; the exit status (130, or 143 for SIGTERM)."""
    import sys

    what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted (Ctrl-C)"
    print(f"{tool}: {what}; {kept}", file=sys.stderr, flush=True)
    return 143 if isinstance(exc, Terminated) else 130
