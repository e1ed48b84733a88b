# SPDX-License-Identifier: Apache-2.0
"""Sampler: argument checks, the real no-NVML path, and (on a GPU) a real window."""

from __future__ import annotations

import threading
import time

import pytest

from waitbench.errors import NvmlError, WaitbenchError
from waitbench.telemetry import nvml
from waitbench.telemetry.sampler import DEFAULT_PERIOD_S, THREAD_NAME, Sampler

NO_NVML = nvml.unavailable_reason()


@pytest.mark.parametrize("kwargs, match", [
    (dict(period_s=0.0), "period_s"), (dict(period_s=11), "period_s"), (dict(period_s=True), "period_s"),
    (dict(gpus=[]), "gpus"), (dict(gpus=0), "gpus"), (dict(gpus=["nonsense"]), "gpu="), (dict(gpus=[-2]), "gpu="),
    (dict(thread=""), "thread"),
])
def test_bad_arguments_raise_value_error_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Sampler(**kwargs)


def test_default_period_is_within_limits():
    assert 0.01 <= DEFAULT_PERIOD_S <= 10.0
    Sampler(period_s=DEFAULT_PERIOD_S)  # accepted


def test_end_without_begin_is_an_error():
    with pytest.raises(WaitbenchError, match="begin"):
        Sampler().end()


@pytest.mark.skipif(NO_NVML is None, reason="NVML works here; this tests the machine without it")
@pytest.mark.parametrize("gpus", [None, [0], ["GPU-12345678-abcd-ef01-2345-6789abcdef01"]])
def test_without_nvml_start_fails_with_one_line_and_cleans_up(gpus):
    threads_before = {t.name for t in threading.enumerate()}
    with pytest.raises(NvmlError) as info, Sampler(gpus):
        pass  # pragma: no cover
    assert "\n" not in str(info.value) and str(info.value) == NO_NVML
    assert nvml.session_refs() == 0
    assert THREAD_NAME not in {t.name for t in threading.enumerate()} - threads_before
    with pytest.raises(NvmlError):
        Sampler(gpus).begin()  # begin() starts the sampler, and fails the same way
    assert nvml.session_refs() == 0


@pytest.mark.gpu
def test_real_window_has_periods_power_and_sampler_cost():
    with Sampler([0]) as s:
        s.begin()
        time.sleep(1.5)
        (summary,) = s.end().values()
    assert nvml.session_refs() == 0
    assert summary.window_s == pytest.approx(1.5, abs=0.3)
    assert summary.nvml_util_pct is not None, summary.null_reasons
    assert summary.power_w is not None and summary.power_w > 0, summary.null_reasons
    assert summary.util_period_s is not None and 0.01 < summary.util_period_s < 2.0
    assert summary.sampler_cpu_pct is not None and summary.sampler_cpu_pct < 5.0
    assert summary.series["power_instant_w"]
