# SPDX-License-Identifier: Apache-2.0
"""How a rank's measurements become a record: pure aggregation, checked with SYNTHETIC window summaries
(values typed in, never a stand-in for a measurement: the real windows come from waitbench.telemetry on a GPU).
"""

from __future__ import annotations

import pytest

from waitbench.nccl.config import Cell, ScenarioConfig, validate_config
from waitbench.nccl.instruments import Window, held_up
from waitbench.nccl.records import (
    base_fields,
    episode_records,
    fill_shape,
    fill_throughput,
    fill_wake,
    finish_record,
    side_call_record,
    skip_record,
)
from waitbench.nccl.scenario import margin_s, stall_timeout_s
from waitbench.results import FIELD_NAMES, validate
from waitbench.telemetry.summary import WindowSummary
from waitbench.workloads import Throughput

CFG = ScenarioConfig(mode="nccl", backend="nccl", late_s=3.0, run_id="r")


def synthetic_window(power_w: float = 80.0, util_pct: float = 99.0) -> WindowSummary:
    """A SYNTHETIC window summary: arbitrary values, GPM absent with its reason."""
    return WindowSummary(uuid="GPU-synthetic", index=0, name="SYNTHETIC GPU (test fixture)", window_s=1.5,
                         nvml_util_pct=util_pct, nvml_mem_util_pct=0.0, power_w=power_w, power_limit_w=700.0,
                         host_thread_cpu_pct=1.0, null_reasons={"gpm_sm_util_pct": "GPM needs Hopper or newer"})


CELL = Cell("LL", "broadcast", 1)


def _base():
    return base_fields(CFG, 1, 2, CELL)


def test_finish_record_takes_the_summary_and_its_reasons():
    rec = finish_record(_base(), status="ok", detail=None, reason="unused", summary=synthetic_window(),
                        idle=synthetic_window(power_w=60.0, util_pct=0.0))
    validate(rec)
    assert rec["nvml_util_pct"] == 99.0 and "nvml_util_pct" not in rec["null_reasons"]
    assert rec["gpm_sm_util_pct"] is None and rec["null_reasons"]["gpm_sm_util_pct"] == "GPM needs Hopper or newer"
    assert rec["null_reasons"]["gpm_dram_bw_util_pct"] == "not measured"  # the summary gives no reason
    assert rec["power_idle_w"] == 60.0 and rec["power_delta_w"] == pytest.approx(20.0)
    assert rec["verdict"] is None and rec["null_reasons"]["verdict"] == "no verdict was computed"
    assert rec["waiter_pollers"] is None and rec["null_reasons"]["waiter_pollers"].startswith("not observable")
    assert (rec["protocol"], rec["collective"], rec["message_bytes"]) == ("LL", "broadcast", 4)


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


def _t(value, unit="TFLOP/s", reason=None, stalled=False, stall_ms=None, started_ns=0, finished_ns=0, name="fma"):
    return Throughput(name, value, unit if value is not None or stalled else None, stalled, reason, started_ns,
                      finished_ns, stall_ms)


def _tput(solo, conc):
    rec = finish_record(_base(), status="ok", detail=None, reason="no window")
    fill_throughput(rec, solo, conc)
    validate(rec)
    return rec


def test_fma_ratio_uses_the_median_of_the_solo_runs():
    rec = _tput([_t(40.0), _t(60.0)], _t(45.0))
    assert rec["extra"]["solo_fma"] == [40.0, 60.0] and rec["workload"] == "fma"
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
    mixed = _tput([_t(1.0)], _t(1.0, unit="TB/s"))  # solo runs in another unit are not this workload's
    assert mixed["tput_solo"] is None and mixed["tput_ratio"] is None


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


SHAPE = {"kernel": "ncclDevKernel_Broadcast_RING_LL(ncclDevKernelArgsStorage<4096ul>)", "grid": 2, "block": 512,
         "regs": 96, "smem": 0, "dur_us": 12.0}


def _episode(**kw):
    args = {"wait_s": 3.0, "host_blocked_s": 0.001, "completion_after_late_us": 25.0,
            "completion_reason": None, "idle": Window(1.0, 0.5, synthetic_window(power_w=60.0, util_pct=0.0), None),
            "window": Window(1.7, 2.0, synthetic_window(), None),
            "solo": {"fma": [_t(40.0), _t(40.0)], "gemm": [_t(700.0, name="gemm"), _t(720.0, name="gemm")]},
            "conc": {"fma": _t(30.0), "gemm": _t(639.0, name="gemm")}, "result_ok": True, "shape": SHAPE,
            "shape_reason": None, "wake": ([30.0] * 19 + [90.0], [20.0] * 20, [12.0] * 20), "wake_reason": None,
            "no_work_reason": "--workloads none", **kw}
    return episode_records(_base(), **args)


def test_an_episode_gives_a_record_per_workload_with_the_shared_measurements():
    fma, gemm = _episode()
    for rec in (fma, gemm):
        validate(rec)
        assert rec["status"] == "ok" and rec["role"] == "waiting" and rec["backend"] == "nccl"
        assert (rec["wait_s"], rec["host_blocked_s"]) == (3.0, 0.001)
        assert rec["host_cpu_pct"] == 2.0 and "host_cpu_pct" not in rec["null_reasons"]  # ours, not the summary's
        assert rec["power_idle_w"] == 60.0 and rec["power_delta_w"] == pytest.approx(20.0)
        assert rec["verdict"] == "busy-waiting" and rec["verdict_inputs"]["power_delta_w"] == pytest.approx(20.0)
        assert rec["completion_after_late_us"] == 25.0
        assert (rec["waiter_blocks"], rec["waiter_threads"], rec["waiter_regs_per_thread"]) == (2, 512, 96)
        assert rec["extra"]["nccl_kernel"] == SHAPE["kernel"]
        assert rec["wake_trials"] == 20 and rec["wake_rtt_p50_us"] == 30.0 and rec["wake_rtt_max_us"] == 90.0
        assert rec["wake_floor_rtt_p50_us"] == 20.0 and rec["extra"]["wake_after_enqueue_p50_us"] == 12.0
        assert rec["wake_rtt_p99_us"] is None and "needs 100" in rec["null_reasons"]["wake_rtt_p99_us"]
        assert rec["side_call"] is None and rec["null_reasons"]["side_call"].startswith("not a side-call run")
    assert (fma["workload"], fma["tput_ratio"]) == ("fma", pytest.approx(0.75))
    assert (gemm["workload"], gemm["tput_solo"], gemm["tput_ratio"]) == ("gemm", 710.0, pytest.approx(0.9))


def test_an_episode_without_workloads_gives_one_record_with_the_reason():
    (rec,) = _episode(solo={}, conc={}, no_work_reason="gloo backend: no GPU")
    assert rec["workload"] is None and rec["null_reasons"]["tput_ratio"] == "gloo backend: no GPU"


def test_an_episode_marks_stalls_wrong_results_and_other_hosts():
    fma, gemm = _episode(conc={"fma": _t(None, reason="held up", stalled=True, stall_ms=1500.0),
                               "gemm": _t(600.0, name="gemm")})
    assert (fma["status"], fma["status_detail"]) == ("stalled", "held up") and gemm["status"] == "ok"
    assert fma["tput_ratio"] is None and fma["null_reasons"]["tput_ratio"] == "held up"
    assert fma["stall_ms"] == 1500.0 and fma["wait_s"] == 3.0  # the rest is still measured
    assert all(r["status"] == "error" for r in _episode(result_ok=False))
    rec = _episode(completion_after_late_us=None, completion_reason="another host")[0]
    assert rec["completion_after_late_us"] is None and rec["null_reasons"]["completion_after_late_us"] == "another host"


def test_shape_and_wake_keep_their_reasons_when_missing():
    rec = finish_record(_base(), status="ok", detail=None, reason="x")
    fill_shape(rec, None, "the profiler saw no NCCL kernel")
    fill_wake(rec, [], [], "the late rank is the one that arrives")
    validate(rec)
    assert rec["waiter_blocks"] is None and rec["null_reasons"]["waiter_blocks"] == "the profiler saw no NCCL kernel"
    assert rec["null_reasons"]["wake_rtt_p50_us"] == "the late rank is the one that arrives"


def test_side_call_record_says_whether_the_call_waited_for_the_late_rank():
    rec = side_call_record(_base(), call="cudaFree", start_ns=1_000_000_000, return_ns=3_500_000_000,
                           arrival_ns=3_000_000_000, wait_s=2.5, result_ok=True)
    validate(rec)
    assert rec["side_call"] == "cudaFree" and rec["side_call_ms"] == pytest.approx(2500.0)
    assert rec["side_call_after_late_ms"] == pytest.approx(500.0)  # it returned after the late rank arrived
    assert rec["nvml_util_pct"] is None and rec["status"] == "ok"


def test_margin_is_small_against_the_wait():
    assert margin_s(3.0) == pytest.approx(0.2) and margin_s(0.3) == pytest.approx(0.03)


@pytest.mark.parametrize("kwargs, match", [
    (dict(numels=(0,)), "^--numel="), (dict(numels=(1 << 29,)), "^--numel="), (dict(numels=()), "^--numel="),
    (dict(protocols=("LL64",)), "^--protocols="), (dict(collectives=("scatter",)), "^--collective="),
    (dict(workloads=("stream",)), "^--workloads="), (dict(wake_trials=-1), "^--wake-trials="),
    (dict(calls=("cudaLaunch",)), "^--calls="), (dict(late_s=float("nan")), "^--late-s="),
    (dict(mode="spin"), "^mode="),
])
def test_validate_config_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        validate_config(ScenarioConfig(**{"mode": "nccl", **kwargs}), 2)


def test_cells_run_protocol_first():
    cfg = ScenarioConfig(mode="nccl", protocols=(None, "LL"), collectives=("all_reduce", "broadcast"), numels=(1, 8))
    cells = cfg.cells()
    assert len(cells) == 8 and [c.protocol for c in cells[:4]] == [None] * 4
    assert cells[-1].label() == "LL/broadcast/32B" and cells[0].label() == "auto/all_reduce/4B"
