# SPDX-License-Identifier: Apache-2.0
"""The rule that keeps NVML alive on several GPUs: one NVML call at a time in the process.

On two H200s, concurrent GPM calls from the sampler's worker threads crashed the process (SIGSEGV,
benchmarks/nvml_threads.py). FakeNvml (a fake, not a measurement) counts threads inside it at once;
every path that samples several GPUs (Sampler with its parallel instrument check, Monitor, diagnose's
windows, which --watch and --serve repeat) must leave it at zero overlaps. The last test takes the
lock away and shows the detector sees the overlaps, so the others can fail.
"""

from __future__ import annotations

import contextlib
import threading

import pytest

from helpers.fake_nvml import FakeNvml
from waitbench import Monitor
from waitbench.diagnose import watch
from waitbench.telemetry import instrument, nvml
from waitbench.telemetry.sampler import Sampler

GPUS = ["nvml:0", "nvml:1"]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeNvml:
    f = FakeNvml(gpus=2, dwell_s=0.0005)
    monkeypatch.setattr(nvml, "pynvml", lambda: f)
    monkeypatch.setattr(instrument, "_cache", {})  # measure the instrument again: it runs in parallel threads
    return f


def test_sampler_on_two_gpus_never_enters_nvml_twice(fake: FakeNvml):
    with Sampler(GPUS, period_s=0.05) as s:
        s.begin()
        threading.Event().wait(1.0)
        summaries = s.end()
    assert len(summaries) == 2
    assert fake.calls > 200 and fake.overlaps == 0


def test_monitor_and_diagnose_windows_on_two_gpus_never_enter_nvml_twice(fake: FakeNvml):
    uuids = [fake.nvmlDeviceGetUUID(f"fake-handle-{i}") for i in range(2)]
    with Monitor(uuids, period_s=0.05) as m:
        threading.Event().wait(1.0)
    assert len(m.summary()) == 2
    assert len(watch(GPUS, seconds=1.0, period_s=0.05)) == 2
    assert fake.overlaps == 0


def test_without_the_lock_the_detector_sees_overlaps(fake: FakeNvml, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(nvml, "_call_lock", contextlib.nullcontext())
    with Sampler(GPUS, period_s=0.05):
        pass  # start() measures both GPUs' instruments in parallel threads
    assert fake.overlaps > 0
