# SPDX-License-Identifier: Apache-2.0
"""Sizing windows from the instrument's periods (the periods themselves are measured on a GPU)."""

from __future__ import annotations

import time

import pytest

from waitbench.telemetry import instrument
from waitbench.telemetry.instrument import MIN_PERIODS_PER_WINDOW, Periods, check_window


def test_min_window_uses_the_slowest_period():
    p = Periods(util_period_s=0.2, energy_period_s=0.05, gpm_interval_s=0.1)
    assert p.slowest_s() == 0.2
    assert p.min_window_s() == pytest.approx(MIN_PERIODS_PER_WINDOW * 0.2)


def test_unmeasured_periods_fall_back_to_the_documented_gpm_floor():
    p = instrument.unmeasured("test")
    assert p.slowest_s() == instrument.GPM_MIN_INTERVAL_S
    assert set(p.reasons) == {"util_period_s", "energy_period_s", "gpm_interval_s"}


def test_short_window_warns_or_refuses():
    p = Periods(0.2, 0.05, None)
    assert check_window(1.0, p) is None
    msg = check_window(0.3, p)
    assert msg and "0.300 s" in msg and "few samples" in msg
    with pytest.raises(ValueError, match=r"window_s=0\.3 is invalid: expected >= 1\.000 s"):
        check_window(0.3, p, strict=True)


def test_median_step():
    t = time.monotonic()
    assert instrument._median_step([t, t + 0.2, t + 0.4, t + 0.7]) == pytest.approx(0.2)
    assert instrument._median_step([t]) is None
