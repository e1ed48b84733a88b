# SPDX-License-Identifier: Apache-2.0
"""Aggregation of one window (means, energy delta, GPM pairs, process union, buffer ownership),
driven by FakeNvml (tests/helpers/fake_nvml.py): a scripted stand-in for pure aggregation logic,
never for a measurement.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pynvml
import pytest

from helpers.fake_nvml import FAKE_MEM_CLOCK_MHZ, FAKE_POWER_W, OTHER_PID, FakeNvml
from waitbench.telemetry import nvml
from waitbench.telemetry.gpm import GPM_FIELDS, GpmReader
from waitbench.telemetry.instrument import Periods
from waitbench.telemetry.window import GpuWindow, throttle_names


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
    assert s.mem_clock_mhz == FAKE_MEM_CLOCK_MHZ and s.stats["mem_clock_mhz"]["n"] >= 2
    assert s.record_fields()["mem_clock_mhz"] == FAKE_MEM_CLOCK_MHZ
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
