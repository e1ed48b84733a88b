# SPDX-License-Identifier: Apache-2.0
"""Rank processes die with their parent: a killed benchmark leaves no rank behind.

``daemon=True`` only helps when the parent exits through Python; after SIGKILL (or SIGTERM, whose
default action skips Python's exit handlers) its rank processes would live on, waiting on a barrier
nobody will release. The kernel's parent-death signal covers every way the parent can end.
"""

from __future__ import annotations

import ctypes
import os
import signal

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
