# SPDX-License-Identifier: Apache-2.0
"""WindowSummary: dict round trip, statistics, and how it fills a results record."""

from __future__ import annotations

import json

import pytest

from helpers.synthetic_windows import GEMM, IDLE, SPIN_1WARP, without_gpm
from waitbench import results
from waitbench.telemetry.summary import WindowSummary, series_stats
from waitbench.telemetry.verdict import classify


def test_round_trip_through_json():
    s = SPIN_1WARP
    s.series = {"nvml_util_pct": [[0.2, 100.0], [0.4, 100.0]]}
    back = WindowSummary.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back == s
    assert "series" not in s.to_dict(series=False)


def test_from_dict_needs_identity_and_ignores_unknown_keys():
    with pytest.raises(ValueError, match="uuid"):
        WindowSummary.from_dict({"name": "x"})
    s = WindowSummary.from_dict({"uuid": "GPU-x", "index": None, "name": "x", "window_s": 1.0, "future_key": 1})
    assert s.uuid == "GPU-x" and s.nvml_util_pct is None


def test_series_stats():
    st = series_stats([[0, 1.0], [1, 3.0], [2, 2.0]], percentiles=True)
    assert st == {"n": 3.0, "mean": 2.0, "min": 1.0, "max": 3.0, "p50": 2.0, "p95": pytest.approx(2.9)}
    assert "p50" not in series_stats([[0, 1.0]], percentiles=False)
    assert series_stats([], percentiles=True) == {}


def test_fill_record_with_verdict_and_baseline_validates():
    rec = results.new_record(record_kind="waiter", strategy="spin")
    GEMM.fill_record(rec, idle=IDLE, verdict=classify(GEMM, IDLE))
    results.validate(rec)
    assert rec["verdict"] == "busy" and rec["power_delta_w"] == pytest.approx(GEMM.power_w - IDLE.power_w)
    assert rec["gpm_tensor_util_pct"] == GEMM.gpm_tensor_util_pct
    assert rec["host_cpu_pct"] is None and rec["null_reasons"]["host_cpu_pct"]
    assert rec["verdict_inputs"]["max_pipe"] == "gpm_tensor_util_pct"


def test_fill_record_carries_null_reasons():
    s = without_gpm(nvml_util_pct=100.0)
    rec = results.new_record(record_kind="waiter")
    s.fill_record(rec)
    results.validate(rec)
    assert rec["gpm_sm_util_pct"] is None
    assert rec["null_reasons"]["gpm_sm_util_pct"].startswith("GPM needs Hopper")
    assert rec["null_reasons"]["power_idle_w"] == "no idle baseline window"
    assert rec["null_reasons"]["verdict"] == "no verdict was computed"
    assert set(s.record_fields()) <= set(results.FIELD_NAMES)
