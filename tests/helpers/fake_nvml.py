# SPDX-License-Identifier: Apache-2.0
"""FAKE NVML for tests of pure logic: fixed readings of one or more pretend GPUs, never a measurement.

Two uses: the window tests check a summary's arithmetic against known readings, and the concurrency
test checks the rule that keeps NVML alive on several GPUs (telemetry/nvml.py: one call at a time).
For the latter every entry points counts the threads inside the fake at once and widens its own
window with a short sleep, so two overlapping calls are seen, not missed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pynvml

FAKE_POWER_W = 100.0
FAKE_UTIL_PERIOD_US = 50_000
FAKE_MEM_CLOCK_MHZ = 2619  # an H100 SXM's HBM3 clock
OTHER_PID = 999_999_993


class FakeNvml:
    """FAKE NVML (not a measurement): fixed readings, so the summary's arithmetic can be checked exactly."""

    def __init__(self, *, gpm: bool = True, gpus: int = 1, dwell_s: float = 0.0) -> None:
        for name in dir(pynvml):  # constants, structs and the real error classes
            if name.startswith(("NVML_", "NVMLError", "c_nvml")):
                setattr(self, name, getattr(pynvml, name))
        self.gpm = gpm
        self.gpus = gpus
        self.dwell_s = dwell_s  # time spent inside every call, so that overlapping calls meet
        self.inside = 0  # threads inside the fake right now
        self.overlaps = 0  # calls that found another thread already inside
        self.calls = 0
        self._count_lock = threading.Lock()
        self.t0 = time.monotonic()
        self.allocated = self.freed = 0
        self.proc_calls = 0
        self._fp64 = int(pynvml.NVML_GPM_METRIC_FP64_UTIL)
        self._values = {int(getattr(pynvml, n)): float(i) for i, n in enumerate((
            "NVML_GPM_METRIC_GRAPHICS_UTIL", "NVML_GPM_METRIC_SM_UTIL", "NVML_GPM_METRIC_SM_OCCUPANCY",
            "NVML_GPM_METRIC_ANY_TENSOR_UTIL", "NVML_GPM_METRIC_FP64_UTIL", "NVML_GPM_METRIC_FP32_UTIL",
            "NVML_GPM_METRIC_FP16_UTIL", "NVML_GPM_METRIC_INTEGER_UTIL", "NVML_GPM_METRIC_DRAM_BW_UTIL",
            "NVML_GPM_METRIC_PCIE_TX_PER_SEC", "NVML_GPM_METRIC_PCIE_RX_PER_SEC"), start=10)}

    def nvmlDeviceGetEnforcedPowerLimit(self, h: Any) -> int:
        return 700_000

    def nvmlDeviceGetTotalEnergyConsumption(self, h: Any) -> int:
        return int(1e9 + FAKE_POWER_W * 1000.0 * (time.monotonic() - self.t0))

    def nvmlDeviceGetPowerUsage(self, h: Any) -> int:
        return 101_000

    def nvmlDeviceGetSamples(self, h: Any, kind: int, last_ts: int) -> tuple[int, list[Any]]:
        now_us = int(time.time() * 1e6)
        since = max(last_ts, now_us - 1_000_000)  # the driver's buffer holds about a second
        first = (since // FAKE_UTIL_PERIOD_US + 1) * FAKE_UTIL_PERIOD_US
        stamps = range(first, now_us, FAKE_UTIL_PERIOD_US)
        if not stamps:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        value = 100 if kind == pynvml.NVML_GPU_UTILIZATION_SAMPLES else 0
        return 1, [SimpleNamespace(timeStamp=t, sampleValue=SimpleNamespace(uiVal=value)) for t in stamps]

    def nvmlDeviceGetClockInfo(self, h: Any, kind: int) -> int:
        return FAKE_MEM_CLOCK_MHZ if kind == pynvml.NVML_CLOCK_MEM else 1980

    def nvmlDeviceGetTemperature(self, h: Any, sensor: int) -> int:
        return 40

    def nvmlDeviceGetCurrentClocksEventReasons(self, h: Any) -> int:
        return 0x4

    def nvmlDeviceGetComputeRunningProcesses(self, h: Any) -> list[Any]:
        self.proc_calls += 1
        procs = [SimpleNamespace(pid=os.getpid(), usedGpuMemory=1 << 20)]
        if self.proc_calls > 1:  # someone else arrives during the window
            procs.append(SimpleNamespace(pid=OTHER_PID, usedGpuMemory=None))
        return procs

    def nvmlGpmQueryDeviceSupport(self, h: Any) -> Any:
        if not self.gpm:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return SimpleNamespace(isSupportedDevice=1)

    def nvmlGpmSampleAlloc(self) -> Any:
        self.allocated += 1
        return pynvml.c_nvmlGpmSample_t()  # a NULL pointer of the real type: never dereferenced here

    def nvmlGpmSampleGet(self, h: Any, sample: object) -> object:
        return sample

    def nvmlGpmSampleFree(self, sample: object) -> None:
        self.freed += 1

    def nvmlGpmMetricsGet(self, req: Any) -> Any:
        for i in range(req.numMetrics):
            m = req.metrics[i]
            m.nvmlReturn = pynvml.NVML_ERROR_NOT_SUPPORTED if m.metricId == self._fp64 else 0
            m.value = self._values[m.metricId]
        return req

    # --- enumeration, for samplers of several pretend GPUs ------------------------------------

    def nvmlInit(self) -> None:
        pass

    def nvmlShutdown(self) -> None:
        pass

    def nvmlSystemGetDriverVersion(self) -> str:
        return "000.00-fake"

    def nvmlDeviceGetCount(self) -> int:
        return self.gpus

    def nvmlDeviceGetHandleByIndex(self, i: int) -> str:
        return f"fake-handle-{i}"

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> str:
        return f"fake-handle-{int(uuid.rsplit('-', 1)[1])}"

    def nvmlDeviceGetPciInfo(self, h: str) -> Any:
        return SimpleNamespace(busId=f"00000000:{int(h.rsplit('-', 1)[1]) + 1:02x}:00.0".encode())

    def nvmlDeviceGetIndex(self, h: str) -> int:
        return int(h.rsplit("-", 1)[1])

    def nvmlDeviceGetUUID(self, h: str) -> str:
        return f"GPU-00000000-0000-0000-0000-{int(h.rsplit('-', 1)[1]):012d}"

    def nvmlDeviceGetName(self, h: str) -> str:
        return "FAKE GPU"

    def nvmlDeviceGetProcessUtilization(self, h: str, since: int) -> list[Any]:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)

    # --- the concurrency detector --------------------------------------------------------------

    def __getattribute__(self, name: str) -> Any:
        attr = object.__getattribute__(self, name)
        if not name.startswith("nvml") or not callable(attr):
            return attr
        return object.__getattribute__(self, "_counted")(attr)

    def _counted(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            with self._count_lock:
                self.calls += 1
                self.inside += 1
                if self.inside > 1:
                    self.overlaps += 1
            try:
                if self.dwell_s:
                    time.sleep(self.dwell_s)
                return fn(*args)
            finally:
                with self._count_lock:
                    self.inside -= 1
        return call
