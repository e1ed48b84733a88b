# SPDX-License-Identifier: Apache-2.0
"""The verdict: on SYNTHETIC windows (logic) and on every device recording under tests/data/telemetry/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.synthetic_windows import COPY, GEMM, HOST_BLOCK, IDLE, SPIN_1WARP, SPIN_EVERY_SM, synthetic, without_gpm
from waitbench.telemetry import verdict as v
from waitbench.telemetry.recording import read_windows
from waitbench.telemetry.verdict import classify

RECORDINGS = sorted((Path(__file__).resolve().parents[1] / "data" / "telemetry").glob("*.jsonl"))


@pytest.mark.parametrize("summary, expected", [
    (IDLE, "idle"), (SPIN_1WARP, "busy-waiting"), (SPIN_EVERY_SM, "busy-waiting"), (GEMM, "busy"), (COPY, "busy"),
    (HOST_BLOCK, "idle"),
], ids=["idle", "spin-1warp", "spin-every-sm", "gemm", "copy", "host-block"])
def test_synthetic_scenarios(summary, expected):
    got = classify(summary, IDLE)
    assert got.verdict == expected, got.reason
    assert got.reason


def test_every_sm_waiter_is_not_busy_despite_full_sm_activity():
    # The trap the issue names: SM activity 100% with nothing working.
    got = classify(SPIN_EVERY_SM, IDLE)
    assert got.inputs["gpm_sm_util_pct"] == 100.0
    assert got.verdict == "busy-waiting"
    assert "waiting" in got.reason


def test_each_kind_of_work_evidence_makes_busy():
    for field in ("gpm_tensor_util_pct", "gpm_fp32_util_pct", "gpm_fp16_util_pct", "gpm_fp64_util_pct"):
        s = synthetic(nvml_util_pct=100.0, **{field: v.PIPE_WORK_PCT})
        assert classify(s, IDLE).verdict == "busy", field
        s = synthetic(nvml_util_pct=100.0, **{field: v.PIPE_WORK_PCT * 0.5})
        assert classify(s, IDLE).verdict == "busy-waiting", field
    assert classify(synthetic(nvml_util_pct=100.0, gpm_dram_bw_util_pct=v.DRAM_WORK_PCT), IDLE).verdict == "busy"


def test_the_integer_pipe_is_work_only_where_it_fills_the_active_sms():
    # polling loops: a few % of integer issue on the SMs the waiter holds (NCCL LL128, 24 channels: 4.0% on 17%)
    polling = synthetic(nvml_util_pct=100.0, gpm_sm_util_pct=17.0, gpm_int_util_pct=4.0)
    assert classify(polling, IDLE).verdict == "busy-waiting"
    hashing = synthetic(nvml_util_pct=100.0, gpm_sm_util_pct=17.0, gpm_int_util_pct=17.0 * v.INT_PER_ACTIVE_SM)
    got = classify(hashing, IDLE)
    assert got.verdict == "busy" and "integer pipe" in got.reason and "gpm integer pipe" in got.signals
    assert classify(synthetic(nvml_util_pct=100.0, gpm_sm_util_pct=17.0, gpm_int_util_pct=v.INT_WORK_PCT * 0.9),
                    IDLE).verdict == "busy-waiting"


def test_kernels_that_come_and_go_are_work_not_waiting():
    for util in (v.IDLE_UTIL_PCT, 19.0, v.RESIDENT_UTIL_PCT - 0.1):
        got = classify(synthetic(nvml_util_pct=util), IDLE)
        assert got.verdict == "busy" and "come and go" in got.reason and got.confidence == "medium", util
        assert classify(without_gpm(nvml_util_pct=util), without_gpm()).verdict == "busy"
    assert classify(synthetic(nvml_util_pct=v.RESIDENT_UTIL_PCT), IDLE).verdict == "busy-waiting"


def test_power_over_idle_counts_as_work_only_above_its_threshold():
    limit, idle_w = 700.0, IDLE.power_w
    over = idle_w + v.POWER_WORK_OVER_IDLE_FRACTION * limit
    got = classify(synthetic(nvml_util_pct=100.0, power_w=over + 1), IDLE)
    assert got.verdict == "busy" and "power" in got.reason
    assert classify(synthetic(nvml_util_pct=100.0, power_w=over - 1), IDLE).verdict == "busy-waiting"


def test_without_idle_baseline_power_is_judged_against_the_limit():
    got = classify(synthetic(nvml_util_pct=100.0, power_w=100.0))
    assert got.verdict == "busy-waiting"
    assert got.inputs["power_delta_w"] is None and "power_idle_w" in got.inputs["missing"]
    assert classify(synthetic(nvml_util_pct=100.0, power_w=0.9 * 700.0)).verdict == "busy"


def test_no_gpm_waiting_rests_on_memory_and_power_over_warm_idle():
    idle = without_gpm(power_w=120.0)
    got = classify(without_gpm(nvml_util_pct=100.0, power_w=160.0), idle)
    assert got.verdict == "busy-waiting" and got.confidence == "medium"
    assert set(got.signals) == {"nvml utilization", "nvml memory utilization", "power over warm idle"}
    assert "GPM needs Hopper" in got.reason and "+40 W" in got.reason and "would read the same" in got.reason
    assert "gpm_tensor_util_pct" in got.inputs["missing"]
    hot = classify(without_gpm(nvml_util_pct=100.0, power_w=120.0 + v.POWER_WORK_OVER_IDLE_FRACTION * 700.0), idle)
    assert hot.verdict == "busy" and hot.confidence == "medium" and "power" in hot.reason


def test_no_gpm_without_a_baseline_is_a_low_confidence_guess_and_without_power_unknown():
    got = classify(without_gpm(nvml_util_pct=100.0, power_w=150.0))
    assert got.verdict == "busy-waiting" and got.confidence == "low" and "no warm-idle baseline" in got.reason
    assert classify(without_gpm(nvml_util_pct=100.0, power_w=0.6 * 700.0)).verdict == "busy"
    s = without_gpm(nvml_util_pct=100.0)
    s.null("power_w", "energy counter: not supported")
    got = classify(s)
    assert got.verdict == "unknown" and got.confidence == "low" and "no power" in got.reason


def test_no_gpm_low_util_is_idle_and_memory_traffic_is_busy():
    assert classify(without_gpm(nvml_util_pct=0.0), without_gpm()).verdict == "idle"
    assert classify(without_gpm(nvml_util_pct=100.0, nvml_mem_util_pct=40.0), without_gpm()).verdict == "busy"


def test_no_counter_at_all_is_unknown_with_reasons():
    s = without_gpm()
    s.null("nvml_util_pct", "nvmlDeviceGetSamples is not supported on this GPU or driver")
    got = classify(s)
    assert got.verdict == "unknown"
    assert "nvmlDeviceGetSamples is not supported" in got.reason


def test_other_process_makes_shared_inside_but_not_outside():
    procs = [{"pid": os.getpid(), "name": "python"}, {"pid": 999_999_991, "name": "trainer"}]
    inside = classify(synthetic(nvml_util_pct=100.0, processes=procs), IDLE)
    assert inside.verdict == "shared"
    assert inside.inputs["activity_verdict"] == "busy-waiting" and inside.inputs["other_pids"] == [999_999_991]
    one = [{"pid": 999_999_991, "name": "trainer"}]
    assert classify(synthetic(nvml_util_pct=100.0, processes=one), observer="outside").verdict == "busy-waiting"
    assert classify(synthetic(nvml_util_pct=100.0, processes=procs), observer="outside").verdict == "shared"


def test_bad_observer_is_a_value_error():
    with pytest.raises(ValueError, match="observer"):
        classify(IDLE, observer="nearby")  # type: ignore[arg-type]


def test_thresholds_are_all_listed_in_inputs():
    got = classify(IDLE, IDLE)
    assert got.inputs["thresholds"] == v.THRESHOLDS
    assert set(v.VERDICTS) == {"idle", "busy", "busy-waiting", "shared", "unknown"}


def _recorded_cases():
    cases = []
    for path in RECORDINGS:
        windows = read_windows(path)
        by_scenario = {meta.get("scenario"): s for s, meta in windows}
        for s, meta in windows:
            if meta.get("expected_verdict"):
                idle = by_scenario.get(meta.get("baseline_scenario") or "idle")
                cases.extend(pytest.param(s if gpm else without_gpm_copy(s), idle, meta["expected_verdict"],
                                          id=f"{path.stem}:{meta.get('scenario')}:{'gpm' if gpm else 'no-gpm'}")
                             for gpm in (True, False))
    return cases or [pytest.param(None, None, None, marks=pytest.mark.skip(
        reason="no device recordings in tests/data/telemetry/ yet (benchmarks/record_telemetry.py makes them)"))]


def without_gpm_copy(s):
    from waitbench.diagnose import without_gpm as strip

    return strip(s)


@pytest.mark.parametrize("summary, idle, expected", _recorded_cases())
def test_recorded_windows_with_and_without_gpm(summary, idle, expected):
    got = classify(summary, idle)
    assert got.verdict == expected, got.reason
