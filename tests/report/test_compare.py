# SPDX-License-Identifier: Apache-2.0
"""compare: a change beyond the recorded spread is flagged, noise inside it is SAME, the threshold holds.

Inputs are SYNTHETIC records (tests/helpers/synthetic_records.py) and, when present, the real reference files.
"""

from __future__ import annotations

import pytest

from helpers import synthetic_records as syn
from helpers.reference_params import reference_params
from waitbench.report import compare as cmp
from waitbench.results import load_records


def _rows(result, label, metric, workload=None):
    return [r for r in result.rows if r.label == label and r.metric == metric and r.workload == workload]


def _one(result, label, metric, workload=None):
    (row,) = _rows(result, label, metric, workload)
    return row


def test_identical_runs_are_all_same_without_warnings():
    a = syn.synthetic_run("A", repetitions=2)
    result = cmp.compare(a, syn.with_changes(a, "B"))
    assert result.rows and {r.verdict for r in result.rows} == {cmp.SAME}
    assert result.warnings == [] and result.only_a == [] and result.only_b == []


def test_a_real_drop_beyond_the_spread_is_worse_and_a_rise_is_better():
    a = syn.synthetic_run("A")
    worse = cmp.compare(a, syn.synthetic_run("B", scale={"nccl-shaped": 0.9}))
    row = _one(worse, "nccl-shaped simple-16ch", "tput_ratio", "gemm")
    assert row.verdict == cmp.WORSE and row.change_pct == pytest.approx(-10.0)
    assert _one(worse, "spin", "tput_ratio", "gemm").verdict == cmp.SAME
    better = cmp.compare(syn.synthetic_run("B", scale={"nccl-shaped": 0.9}), a)
    assert _one(better, "nccl-shaped simple-16ch", "tput_ratio", "gemm").verdict == cmp.BETTER


def test_noise_within_the_recorded_spread_is_same():
    a = syn.synthetic_run("A")  # tput_ratio_spread_pct 0.4: a half-width of 0.2%
    result = cmp.compare(a, syn.synthetic_run("B", scale={"nccl-shaped": 0.999}))
    row = _one(result, "nccl-shaped simple-16ch", "tput_ratio", "fma")
    assert row.verdict == cmp.SAME and row.reason == "within spread"


def test_overlapping_spreads_are_ambiguous():
    m = cmp.metric("tput_ratio")
    a, b = cmp.Value(1.00, 0.02, "ok", 1), cmp.Value(0.97, 0.02, "ok", 1)  # 0.02 < |d| = 0.03 <= 0.04
    assert cmp.judge(m, a, b, 0.0)[2:] == (cmp.AMBIGUOUS, "spreads overlap")
    assert cmp.judge(m, a, cmp.Value(0.95, 0.02, "ok", 1), 0.0)[2] == cmp.WORSE


def test_threshold_is_respected():
    a, b = syn.synthetic_run("A"), syn.synthetic_run("B", scale={"nccl-shaped": 0.9})
    key = ("nccl-shaped simple-16ch", "tput_ratio", "stream")
    assert _one(cmp.compare(a, b, threshold_pct=5), *key).verdict == cmp.WORSE
    high = _one(cmp.compare(a, b, threshold_pct=15), *key)
    assert high.verdict == cmp.SAME and high.reason == "beyond spread, under threshold"


def test_percent_metrics_change_in_points():
    m = cmp.metric("gpm_sm_util_pct")
    change, pct, verdict, _ = cmp.judge(m, cmp.Value(1.0, 0.5, "ok", 1), cmp.Value(11.0, 0.5, "ok", 1), 0.0)
    assert (change, pct, verdict) == (10.0, 10.0, cmp.WORSE)  # 10 points, not +1000%


def test_wake_p50_spread_comes_from_its_p99():
    a = syn.synthetic_run("A")
    b = syn.synthetic_run("B")
    for rec in b:
        if rec["strategy"] == "host-block" and rec["record_kind"] == "waiter":
            rec["wake_rtt_p50_us"] = 80.0  # A: p50 50, p99 95 (half-width 45); B: p50 80, p99 95 (15)
        if rec["strategy"] == "spin" and rec["record_kind"] == "waiter" and rec["options"]["blocks"] == 1:
            rec["wake_rtt_p50_us"], rec["wake_rtt_p99_us"] = 20.0, 22.0  # A: 5 (p99 7): far beyond
    result = cmp.compare(a, b)
    assert _one(result, "host-block", "wake_rtt_p50_us").verdict == cmp.SAME
    assert _one(result, "spin", "wake_rtt_p50_us").verdict == cmp.WORSE


def test_a_new_stall_is_worse_and_a_stall_in_both_is_same():
    a = syn.synthetic_run("A")
    b = syn.synthetic_run("B")
    i = next(i for i, r in enumerate(b) if r["strategy"] == "nccl-shaped" and r["workload"] == "fma")
    b[i] = syn.workload_record("B", "nccl-shaped", {"preset": "simple-16ch"}, "fma", "stalled")
    result = cmp.compare(a, b)
    assert _one(result, "nccl-shaped simple-16ch", "tput_ratio", "fma").verdict == cmp.WORSE
    assert _one(result, "nccl-shaped simple-16ch", "tput_solo", "fma").verdict == cmp.SAME  # solo still timed
    assert _one(result, "spin blocks=132 threads=1024", "tput_ratio", "gemm").reason == "stalled in both"


def test_unknown_spread_is_ambiguous_unless_under_threshold():
    m = cmp.metric("completion_after_late_us")
    a, b = cmp.Value(100.0, None, "ok", 1), cmp.Value(120.0, None, "ok", 1)
    assert cmp.judge(m, a, b, 0.0)[2:] == (cmp.AMBIGUOUS, "no spread recorded")
    assert cmp.judge(m, a, b, 25.0)[2] == cmp.SAME


def test_warns_when_gpu_driver_or_schema_differ():
    a = syn.synthetic_run("A")
    b = syn.with_changes(a, "B", gpu_name="Another GPU", driver_version="999.1", schema_version=999)
    warnings = cmp.compare(a, b).warnings
    assert [w.split(" ")[0] for w in warnings] == ["gpu_name", "driver_version", "schema_version"]
    assert "999.1" in warnings[1]


def test_combinations_in_one_run_only_are_listed():
    a = syn.synthetic_run("A")
    b = [r for r in syn.synthetic_run("B") if r["strategy"] != "host-block"] + syn.synthetic_sweep("B")
    result = cmp.compare(a, b)
    assert result.only_a == ["host-block (waiter)", "host-block gemm (workload)", "host-block fma (workload)",
                             "host-block stream (workload)"]
    assert len(result.only_b) == len(syn.synthetic_sweep())
    swept = cmp.compare(syn.synthetic_sweep("A"), syn.synthetic_sweep("B"))
    assert _one(swept, "spin blocks=2 (sweep)", "tput_ratio", "fma").verdict == cmp.SAME
    assert not _rows(result, "host-block", "nvml_util_pct")


def test_negative_threshold_is_rejected():
    with pytest.raises(ValueError, match="threshold=-1 is invalid"):
        cmp.compare([], [], threshold_pct=-1)


@pytest.mark.parametrize("path", reference_params())
def test_reference_results_compared_with_themselves_are_same(path):
    records = load_records(path)
    result = cmp.compare(records, records)
    assert result.rows and result.warnings == []
    assert {r.verdict for r in result.rows} <= {cmp.SAME, cmp.AMBIGUOUS}
    assert all(r.reason in ("no change", "stalled in both") or r.reason.startswith("not measured")
               for r in result.rows)
