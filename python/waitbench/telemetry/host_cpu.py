# SPDX-License-Identifier: Apache-2.0
"""Host CPU time of this process and of one named thread, as percent of one core per wall second.

Why: a host-side wait frees the GPU but may burn a core instead (vLLM/SGLang before sleep-on-idle,
LMDeploy after its fix), so the cost of waiting is reported on both sides.

Sources and periods: the process from ``time.process_time()`` (getrusage, ns resolution); the calling
thread from ``time.thread_time()``; any other thread of this process from
``/proc/self/task/<tid>/stat`` fields utime+stime, in clock ticks (usually 10 ms: a window of ~1 s
gives ~1% resolution; read directly: see :func:`thread_cpu_s` for why not psutil). Threads are listed
by psutil and found by their Python name, or by the name in ``/proc/self/task/<tid>/comm`` (cut to 15
characters by Linux; psutil does not give thread names).
Equivalent tool: ``top -H -p <pid>`` (per-thread %CPU).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from ..errors import invalid

_TASKS = Path("/proc/self/task")  # a thread's name and CPU time (psutil lists the threads)


def find_thread(name: str) -> int | None:
    """Native id of this process's thread called ``name``, or None.

    Python threads match on their ``threading`` name; native threads (the C++ core's waiters) on
    Linux's 15-character comm, which psutil does not expose, so it is read from /proc.
    """
    for t in threading.enumerate():
        if t.name == name and t.native_id is not None:
            return t.native_id
    short = name[:15]
    for tid in _task_ids():
        try:
            comm = (_TASKS / str(tid) / "comm").read_text().strip()
        except OSError:
            continue
        if comm == short:
            return tid
    return None


def _task_ids() -> list[int]:
    try:
        return sorted(t.id for t in psutil.Process().threads())
    except psutil.Error:
        return []


def clock_ticks_per_s() -> int:
    """The kernel's clock ticks per second, the unit of /proc CPU times."""
    return int(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100


def thread_cpu_s(tid: int) -> float | None:
    """CPU seconds (user + system) of thread ``tid`` of this process, or None if it is gone or unreadable.

    Read from the one thread's ``/proc/self/task/<tid>/stat``, not psutil: ``Process().threads()``
    reads every thread's stat file, handing the GIL back and forth at each, and with a busy Python
    thread it took about 9 ms per call against 3-6 ms for the one file (two threads, measured here), which
    made a busy thread read 106-110% of a core over a 0.6 s window (tests/telemetry/test_host_cpu.py).
    """
    if tid == threading.get_native_id():
        return time.thread_time()
    try:
        stat = (_TASKS / str(tid) / "stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / clock_ticks_per_s()


@dataclass(frozen=True)
class CpuWindow:
    """CPU use over one window, in percent of one core (100 = one core busy the whole window)."""

    wall_s: float
    process_cpu_pct: float
    thread_cpu_pct: float | None
    thread_name: str | None
    thread_reason: str | None  # why thread_cpu_pct is None


class CpuMeter:
    """Measures CPU time between :meth:`begin` and :meth:`end` for the process and, optionally, one thread.

    ``thread`` is a thread name (looked up at :meth:`begin`, so the thread must exist by then) or a
    native thread id (``threading.get_native_id()``).
    """

    def __init__(self, thread: str | int | None = None) -> None:
        if thread is not None and (isinstance(thread, bool) or not isinstance(thread, (str, int)) or thread == ""):
            raise invalid("thread", thread, "a thread name, a native thread id, or None")
        self.thread = thread
        self._t0 = self._p0 = 0.0
        self._tid: int | None = None
        self._th0: float | None = None

    def begin(self) -> None:
        """Start a window: the thread's and the process's CPU time now."""
        self._tid = find_thread(self.thread) if isinstance(self.thread, str) else self.thread
        self._th0 = thread_cpu_s(self._tid) if self._tid is not None else None
        self._t0, self._p0 = time.monotonic(), time.process_time()

    def end(self) -> CpuWindow:
        """End the window: CPU use of the process and of the thread, per wall second."""
        wall = max(time.monotonic() - self._t0, 1e-9)
        process_pct = 100.0 * (time.process_time() - self._p0) / wall
        name = self.thread if isinstance(self.thread, str) else None
        if self.thread is None:
            return CpuWindow(wall, process_pct, None, None, "no thread was named")
        if self._tid is None:
            return CpuWindow(wall, process_pct, None, name, f"no thread named {self.thread!r} in this process")
        th1 = thread_cpu_s(self._tid)
        if th1 is None or self._th0 is None:
            return CpuWindow(wall, process_pct, None, name, f"thread {self._tid} ended or is unreadable")
        return CpuWindow(wall, process_pct, 100.0 * (th1 - self._th0) / wall, name or str(self._tid), None)
