# SPDX-License-Identifier: Apache-2.0
"""Aggregation of one window (means, energy delta, GPM pairs, process union, buffer ownership),
driven by a FakeNvml: a scripted stand-in for pure aggregation logic, never for a measurement."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace
from typing import Any

import pynvml
import pytest
from waitbench.telemetry import nvml
from waitbench.telemetry.gpm import GPM_FIELDS, GpmReader
from waitbench.telemetry.instrument import Periods
from waitbench.telemetry.window import GpuWindow, throttle_names

FAKE_POWER_W = 100.0
FAKE_UTIL_PERIOD_US = 50_000
OTHER_PID = 999_999_993


class FakeNvml:
    """FAKE NVML (not a measurement): fixed readings, so the summary's arithmetic can be checked exactly."""

    def __init__(self, *, gpm: bool = True) -> None:
        for name in dir(pynvml):  # constants, structs and the real error classes
            if name.startswith(("NVML_", "NVMLError", "c_nvml")):
                setattr(self, name, getattr(pynvml, name))
        self.gpm = gpm
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
        first = (last_ts // FAKE_UTIL_PERIOD_US + 1) * FAKE_UTIL_PERIOD_US
        stamps = range(first, now_us, FAKE_UTIL_PERIOD_US)
        if not stamps:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        value = 100 if kind == pynvml.NVML_GPU_UTILIZATION_SAMPLES else 0
        return 1, [SimpleNamespace(timeStamp=t, sampleValue=SimpleNamespace(uiVal=value)) for t in stamps]

    def nvmlDeviceGetClockInfo(self, h: Any, kind: int) -> int:
        return 1980

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


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeNvml:
    f = FakeNvml()
    monkeypatch.setattr(nvml, "pynvml", lambda: f)
    return f


def _window(period_s: float = 0.02) -> GpuWindow:
    dev = nvml.Device(handle="fake-handle", nvml_index=0, uuid="GPU-fake", pci_bus_id="0000:00:00.0",
                      name="FAKE GPU", cuda_index=0)
    periods = Periods(0.05, 0.01, None, {"gpm_interval_s": "not visible (fake)"})
    return GpuWindow(dev, periods, GpmReader(dev), period_s)


def _run(w: GpuWindow, seconds: float) -> Any:
    w.begin()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.02)
        w.poll_fast()
        w.poll_slow()
    return w.end(observer_pid=os.getpid())


def test_window_summary_arithmetic(fake: FakeNvml):
    s = _run(_window(), 0.5)
    assert s.power_w == pytest.approx(FAKE_POWER_W, rel=0.05)
    assert s.power_instant_w == pytest.approx(101.0)
    assert s.power_limit_w == 700.0
    assert s.nvml_util_pct == 100.0 and s.nvml_mem_util_pct == 0.0
    assert s.sm_clock_mhz == 1980 and s.temperature_c == 40
    assert s.throttle_reasons == ["sw_power_cap"]
    assert [p["pid"] for p in s.processes] == [os.getpid(), OTHER_PID]
    assert [p["pid"] for p in s.other_processes()] == [OTHER_PID]
    assert s.gpm_sm_util_pct == fake._values[int(pynvml.NVML_GPM_METRIC_SM_UTIL)]
    assert s.gpm_fp64_util_pct is None and "FP64" in s.null_reasons["gpm_fp64_util_pct"]
    assert s.null_reasons["gpm_interval_s"] == "not visible (fake)" and s.util_period_s == 0.05
    assert len(s.series["nvml_util_pct"]) >= 5
    assert s.stats["power_instant_w"]["max"] == pytest.approx(101.0)
    assert "p95" in s.stats["nvml_util_pct"] and "p95" not in s.stats["temperature_c"]
    assert fake.allocated == fake.freed  # every GPM buffer returned


def test_window_without_gpm_nulls_every_gpm_field(monkeypatch: pytest.MonkeyPatch):
    f = FakeNvml(gpm=False)
    monkeypatch.setattr(nvml, "pynvml", lambda: f)
    s = _run(_window(), 0.2)
    for field in GPM_FIELDS:
        assert getattr(s, field) is None
        assert s.null_reasons[field].startswith("GPM needs Hopper or newer")
    assert f.allocated == 0


def test_close_frees_an_unended_window(fake: FakeNvml):
    w = _window()
    w.begin()
    w.close()
    assert fake.allocated == fake.freed == 1


def test_throttle_names():
    assert throttle_names(0) == []
    assert throttle_names(0x1 | 0x40) == ["gpu_idle", "hw_thermal"]
