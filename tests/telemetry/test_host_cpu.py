# SPDX-License-Identifier: Apache-2.0
"""Host CPU of a named thread and of the process (real /proc readings of threads started here)."""

from __future__ import annotations

import threading
import time

import pytest

from waitbench.telemetry.host_cpu import CpuMeter, find_thread, thread_cpu_s


def _thread(name: str, busy: bool, stop: threading.Event) -> threading.Thread:
    def body() -> None:
        while not stop.is_set():
            if not busy:
                stop.wait(0.05)

    t = threading.Thread(target=body, name=name, daemon=True)
    t.start()
    return t


def test_busy_thread_reads_high_and_sleeping_thread_low():
    stop = threading.Event()
    _thread("wb-test-busy", True, stop)
    _thread("wb-test-sleepy", False, stop)
    time.sleep(0.05)
    try:
        busy, sleepy = CpuMeter("wb-test-busy"), CpuMeter("wb-test-sleepy")
        busy.begin()
        sleepy.begin()
        time.sleep(0.6)
        b, s = busy.end(), sleepy.end()
    finally:
        stop.set()
    assert b.thread_cpu_pct is not None and s.thread_cpu_pct is not None
    assert b.thread_cpu_pct > 20.0  # shares the GIL with this thread, but spins for most of the window
    assert s.thread_cpu_pct < 10.0
    assert b.process_cpu_pct >= b.thread_cpu_pct - 5.0  # the process includes the thread (tick resolution)
    assert b.thread_name == "wb-test-busy"


def test_own_thread_by_native_id():
    m = CpuMeter(threading.get_native_id())
    m.begin()
    t_end = time.thread_time() + 0.1
    while time.thread_time() < t_end:
        pass
    w = m.end()
    assert w.thread_cpu_pct is not None and w.thread_cpu_pct > 30.0


def test_missing_thread_is_none_with_reason():
    m = CpuMeter("no-such-thread")
    m.begin()
    w = m.end()
    assert w.thread_cpu_pct is None and "no-such-thread" in w.thread_reason
    assert w.process_cpu_pct >= 0.0
    none = CpuMeter()
    none.begin()
    assert none.end().thread_reason == "no thread was named"


def test_lookup_helpers():
    assert find_thread(threading.current_thread().name) == threading.get_native_id()
    assert find_thread("no-such-thread") is None
    assert thread_cpu_s(threading.get_native_id()) == pytest.approx(time.thread_time(), abs=0.05)
    assert thread_cpu_s(2**31 - 7) is None


@pytest.mark.parametrize("bad", [True, 1.5, ""])
def test_bad_thread_argument(bad):
    with pytest.raises(ValueError, match="thread"):
        CpuMeter(bad)
