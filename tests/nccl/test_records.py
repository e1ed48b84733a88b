# SPDX-License-Identifier: Apache-2.0
"""How a rank's measurements become a record: pure aggregation, checked with a named fake summary
(never a stand-in for a measurement: the real windows come from waitbench.telemetry on a GPU)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from waitbench.nccl.config import ScenarioConfig, validate_config
from waitbench.nccl.probes import Throughput, Window, held_up
from waitbench.nccl.records import base_fields, fill_throughput, finish_record, measured_record, skip_record
from waitbench.nccl.scenario import margin_s, stall_timeout_s
from waitbench.results import FIELD_NAMES, validate

CFG = ScenarioConfig(mode="nccl", backend="nccl", late_s=3.0, run_id="r")


@dataclass
class FakeWindowSummary:
    """Shaped like waitbench.telemetry.WindowSummary's record interface; the values are arbitrary."""

    values: dict = field(default_factory=lambda: {"window_s": 1.5, "nvml_util_pct": 99.0, "gpm_sm_util_pct": None,
                                                  "power_w": 80.0, "host_cpu_pct": 1.0})
    null_reasons: dict = field(default_factory=lambda: {"gpm_sm_util_pct": "GPM needs Hopper or newer"})
    power_w: float = 80.0

    def record_fields(self) -> dict:
        return dict(self.values)


def _base():
    return base_fields(CFG, 1, 2)


def test_finish_record_takes_the_summary_and_its_reasons():
    rec = finish_record(_base(), status="ok", detail=None, reason="unused", summary=FakeWindowSummary())
    validate(rec)
    assert rec["nvml_util_pct"] == 99.0 and "nvml_util_pct" not in rec["null_reasons"]
    assert rec["gpm_sm_util_pct"] is None and rec["null_reasons"]["gpm_sm_util_pct"] == "GPM needs Hopper or newer"
    assert rec["null_reasons"]["nvml_mem_util_pct"] == "unused"  # not in the summary: the window's reason
    assert rec["waiter_blocks"] is None and rec["null_reasons"]["waiter_blocks"].startswith("not observed")


def test_finish_record_without_summary_nulls_every_metric_with_the_reason():
    rec = finish_record(_base(), status="error", detail="boom", reason="the rank failed")
    assert set(rec) == set(FIELD_NAMES)
    for name in ("nvml_util_pct", "power_w", "host_cpu_pct", "completion_after_late_us", "wait_s", "host_blocked_s",
                 "tput_ratio", "stall_ms"):
        assert rec[name] is None and rec["null_reasons"][name] == "the rank failed"
    assert rec["status_detail"] == "boom"
    assert (rec["role"], rec["backend"]) == ("waiting", "nccl")  # known from the config, measured or not


def test_skip_record_has_the_skipped_status_and_the_reason():
    rec = skip_record(CFG, 0, 2, "no cupy")
    validate(rec)
    assert (rec["status"], rec["status_detail"]) == ("skipped", "no cupy")
    assert rec["role"] == "late" and rec["extra"] == {"env": rec["extra"]["env"]}
    assert rec["wait_s"] is None and rec["null_reasons"]["wait_s"] == "skipped: no cupy"
    assert rec["options"]["env"] == {} and rec["strategy"] == "nccl" and rec["late_s"] == 3.0


def _t(value, unit="TFLOP/s", reason=None, stalled=False, stall_ms=None, started_ns=0, finished_ns=0):
    return Throughput(value, unit if value is not None or stalled else None, stalled, reason, started_ns,
                      finished_ns, stall_ms)


def _tput(solo, conc):
    rec = finish_record(_base(), status="ok", detail=None, reason="no window")
    fill_throughput(rec, solo, conc)
    validate(rec)
    return rec


def test_fma_ratio_uses_the_median_of_the_solo_runs():
    rec = _tput([_t(40.0), _t(60.0)], _t(45.0))
    assert rec["extra"]["solo_fma_tflops"] == [40.0, 60.0] and rec["workload"] == "fma"
    assert (rec["tput_unit"], rec["tput_solo"], rec["tput_concurrent"]) == ("TFLOP/s", 50.0, 45.0)
    assert rec["tput_ratio"] == pytest.approx(0.9)
    assert rec["stall_ms"] is None and rec["null_reasons"]["stall_ms"] == "the concurrent workload did not stall"


def test_fma_without_values_keeps_the_reason():
    rec = _tput([_t(None, reason="no native core")], _t(None, reason="no native core"))
    assert rec["workload"] is None
    for name in ("tput_unit", "tput_solo", "tput_ratio", "stall_ms"):
        assert rec[name] is None and rec["null_reasons"][name] == "no native core"
    rec = _tput([_t(None, reason="solo failed")], _t(45.0))
    assert rec["tput_concurrent"] == 45.0
    assert rec["tput_ratio"] is None and rec["null_reasons"]["tput_ratio"] == "solo failed"
    assert "expected TFLOP/s" in _tput([_t(1.0)], _t(1.0, unit="TB/s"))["null_reasons"]["tput_ratio"]


def test_a_stalled_concurrent_run_keeps_solo_and_stall_time():
    rec = _tput([_t(40.0), _t(40.0)], _t(None, reason="did not finish", stalled=True, stall_ms=2700.0))
    assert rec["tput_solo"] == 40.0 and rec["stall_ms"] == 2700.0
    assert rec["tput_concurrent"] is None and rec["null_reasons"]["tput_concurrent"] == "did not finish"
    assert rec["tput_ratio"] is None and rec["null_reasons"]["tput_ratio"] == "did not finish"


def test_held_up_turns_a_run_that_outlived_the_wait_into_a_stall():
    arrival = 5_000_000_000
    on_time = _t(30.0, started_ns=1_000_000_000, finished_ns=arrival - 1)
    assert held_up(on_time, arrival) is on_time
    late = held_up(_t(30.0, started_ns=1_000_000_000, finished_ns=arrival + 2_500_000), arrival)
    assert late.stalled and late.value is None and late.stall_ms == pytest.approx(4000.0)
    assert "2.5 ms after the late rank arrived" in late.reason
    none = _t(None, reason="gloo", finished_ns=arrival + 1)
    assert held_up(none, arrival) is none


def test_stall_timeout_ends_before_the_late_rank_arrives():
    arrival = 10_000_000_000
    now = arrival - 1_200_000_000
    assert stall_timeout_s(now, arrival, 3.0) == pytest.approx(1.2 - 0.1)
    assert stall_timeout_s(now, arrival, 0.3) == pytest.approx(1.2 - 0.015)


def _measured(**kw):
    args = {"wait_s": 3.0, "host_blocked_s": 0.001, "completion_after_late_us": 25.0,
            "completion_reason": None, "idle": Window(1.0, 0.5, FakeWindowSummary(power_w=60.0), None),
            "window": Window(1.7, 2.0, FakeWindowSummary(), None), "solo": [_t(40.0), _t(40.0)],
            "conc": _t(30.0), "result_ok": True, **kw}
    return measured_record(_base(), **args)


def test_measured_record_combines_window_idle_and_completion():
    rec = _measured()
    validate(rec)
    assert rec["status"] == "ok" and rec["role"] == "waiting" and rec["backend"] == "nccl"
    assert (rec["wait_s"], rec["host_blocked_s"]) == (3.0, 0.001)
    assert "wait_s" not in rec["null_reasons"] and "wait_s" not in rec["extra"]
    assert rec["host_cpu_pct"] == 2.0 and "host_cpu_pct" not in rec["null_reasons"]  # ours, not the summary's
    assert rec["power_idle_w"] == 60.0 and rec["power_delta_w"] == pytest.approx(20.0)
    assert rec["completion_after_late_us"] == 25.0
    assert (rec["workload"], rec["tput_unit"]) == ("fma", "TFLOP/s")
    assert (rec["tput_solo"], rec["tput_concurrent"]) == (40.0, 30.0)
    assert rec["tput_ratio"] == pytest.approx(0.75) and "tput_ratio" not in rec["null_reasons"]
    assert set(rec["extra"]) == {"env", "host_cpu_idle_pct", "sampler_cpu_pct", "solo_fma_tflops"}


def test_measured_record_marks_stalls_wrong_results_and_other_hosts():
    stalled = _measured(conc=_t(None, reason="held up", stalled=True, stall_ms=1500.0))
    assert (stalled["status"], stalled["status_detail"]) == ("stalled", "held up")
    assert stalled["tput_ratio"] is None and stalled["null_reasons"]["tput_ratio"] == "held up"
    assert stalled["stall_ms"] == 1500.0 and stalled["wait_s"] == 3.0  # the rest is still measured
    assert _measured(result_ok=False)["status"] == "error"
    rec = _measured(completion_after_late_us=None, completion_reason="another host")
    assert rec["completion_after_late_us"] is None and rec["null_reasons"]["completion_after_late_us"] == "another host"


def test_margin_is_small_against_the_wait():
    assert margin_s(3.0) == pytest.approx(0.2) and margin_s(0.3) == pytest.approx(0.03)


def test_validate_config_names_the_argument():
    with pytest.raises(ValueError, match="^numel="):
        validate_config(ScenarioConfig(mode="nccl", numel=0), 2)
    with pytest.raises(ValueError, match="^mode="):
        validate_config(ScenarioConfig(mode="spin"), 2)
