# SPDX-License-Identifier: Apache-2.0
"""The background sampler: one thread polls NVML (and GPM) for one or more GPUs between begin() and end().

Why a thread of its own: the code being measured must not be interrupted to take samples, and the
driver's sources update on their own clocks (utilization every ~200 ms, GPM every >100 ms, the
energy counter on its own period). The thread sleeps on an Event between ticks (never spins), so it
holds the GIL only for the few NVML calls of a tick; its own CPU time is reported in every summary.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ..errors import NvmlError, WaitbenchError, invalid
from . import instrument, nvml
from .gpm import GpmReader
from .host_cpu import CpuMeter
from .summary import WindowSummary
from .window import GpuWindow

# One tick a second: at 0.2 s (one per utilization period) the thread used 3.0% of a core on the H100
# (benchmarks/sampler_overhead.py; target < 1%), mostly GPM sample reads. Window figures do not need
# the ticks: GPM and the energy counter are read at each window's ends, utilization from the driver's
# own 200 ms sample buffer; the ticks only add the series inside a window.
DEFAULT_PERIOD_S = 1.0
SLOW_EVERY_S = 1.0  # utilization buffer, clocks, temperature, clock-event reasons
THREAD_NAME = "waitbench-sampler"


class Sampler:
    """Background NVML + GPM sampler for one or more GPUs.

    Args:
        gpus: CUDA indices (ints, mapped to NVML by UUID through the native core), UUIDs, PCI bus
            ids or ``'nvml:N'``; None for every GPU NVML sees.
        period_s: seconds between ticks of the sampler thread.
        thread: name or native id of a host thread whose CPU time each window reports.
        strict: raise ValueError (instead of warning) on a window too short for the instrument.
        measure_instrument: measure the sources' update periods at start (about 1 s per GPU, once
            per process); without it the periods are None and the documented GPM floor sizes windows.

    Use ``with Sampler([0]) as s: s.begin(); ...; summaries = s.end()``.
    """

    def __init__(self, gpus: Sequence[int | str] | None = None, period_s: float = DEFAULT_PERIOD_S, *,
                 thread: str | int | None = None, strict: bool = False, measure_instrument: bool = True) -> None:
        if gpus is not None:
            if isinstance(gpus, (str, int)) or not len(gpus):
                raise invalid("gpus", gpus, "a non-empty list of GPU specs (" + nvml.SPEC_RANGE + "), or None")
            for spec in gpus:
                nvml.parse_spec(spec)
        if isinstance(period_s, bool) or not isinstance(period_s, (int, float)) or not 0.01 <= period_s <= 10.0:
            raise invalid("period_s", period_s, "seconds in [0.01, 10.0]")
        self.gpus = list(gpus) if gpus is not None else None
        self.period_s = float(period_s)
        self.strict = strict
        self.measure_instrument = measure_instrument
        self._cpu = CpuMeter(thread)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._windows: list[GpuWindow] = []
        self._open = False
        self._started = False
        self._sampler_cpu_s = 0.0
        self._sampler_cpu0 = 0.0
        self._t_begin = 0.0
        self._errors: list[str] = []

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Initialise NVML, find the GPUs, measure the instrument, start the thread (NvmlError if no NVML)."""
        if self._started:
            return
        nvml.acquire()
        try:
            devices = [nvml.device(g) for g in self.gpus] if self.gpus is not None else nvml.all_devices()
            if not devices:
                raise NvmlError("nvmlDeviceGetCount", None, "NVML sees no GPU")
            if len({d.uuid for d in devices}) < len(devices):
                raise invalid("gpus", self.gpus, "distinct GPUs (two specs name the same GPU)")
            readers = [GpmReader(dev) for dev in devices]
            if self.measure_instrument:  # all GPUs at once: about one second whatever their number
                with ThreadPoolExecutor(max_workers=len(devices)) as pool:
                    periods = list(pool.map(instrument.measure, devices, readers))
            else:
                periods = [instrument.unmeasured("measure_instrument=False")] * len(devices)
            self._windows = [GpuWindow(d, p, r, self.period_s)
                             for d, p, r in zip(devices, periods, readers, strict=True)]
        except BaseException:
            self._windows = []
            nvml.release()
            raise
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()
        self._started = True

    def stop(self) -> None:
        """Stop the thread, free GPM buffers, release NVML. Safe to call twice and after errors."""
        if not self._started:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5 * self.period_s, 2.0))
        with self._lock:
            for w in self._windows:
                w.close()
            self._windows = []
            self._open = False
        self._started = False
        nvml.release()

    def __enter__(self) -> Sampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def devices(self) -> list[nvml.Device]:
        """The watched GPUs, in the order their summaries come."""
        return [w.dev for w in self._windows]

    # --- windows ------------------------------------------------------------------------------

    def begin(self) -> None:
        """Open a window on every GPU (starts the sampler if needed)."""
        self.start()
        with self._lock:
            if self._open:
                raise WaitbenchError("a telemetry window is already open: call end() first")
            self._cpu.begin()
            self._sampler_cpu0 = self._sampler_cpu_s
            self._errors = []
            for w in self._windows:
                w.begin()
            self._t_begin = time.monotonic()
            self._open = True

    def end(self) -> dict[str, WindowSummary]:
        """Close the window: one summary per GPU, keyed by UUID."""
        with self._lock:
            if not self._open:
                raise WaitbenchError("no telemetry window is open: call begin() first")
            self._open = False
            wall = max(time.monotonic() - self._t_begin, 1e-9)
            cpu = self._cpu.end()
            sampler_pct = 100.0 * (self._sampler_cpu_s - self._sampler_cpu0) / wall
            out: dict[str, WindowSummary] = {}
            for w in self._windows:
                s = w.end(observer_pid=os.getpid())
                s.host_process_cpu_pct, s.host_thread_cpu_pct = cpu.process_cpu_pct, cpu.thread_cpu_pct
                s.host_thread_name = cpu.thread_name
                if cpu.thread_reason:
                    s.null_reasons["host_thread_cpu_pct"] = cpu.thread_reason
                s.sampler_cpu_pct = sampler_pct
                s.warnings.extend(self._errors)
                warning = instrument.check_window(s.window_s, w.periods, strict=self.strict)
                if warning:
                    s.warnings.append(warning)
                    warnings.warn(warning, stacklevel=2)
                out[s.uuid] = s
            return out

    # --- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        next_slow = 0.0
        while not self._stop.wait(self.period_s):
            with self._lock:
                if self._open:
                    now = time.monotonic()
                    slow = now >= next_slow
                    for w in self._windows:
                        try:
                            w.poll_fast()
                            if slow:
                                w.poll_slow()
                        except Exception as exc:  # noqa: BLE001 - a failing tick must not end the window
                            if len(self._errors) < 10:
                                self._errors.append(f"sampler tick on {w.dev.uuid} failed: {exc}")
                    if slow:
                        next_slow = now + SLOW_EVERY_S
            self._sampler_cpu_s = time.thread_time()
