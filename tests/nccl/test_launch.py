# SPDX-License-Identifier: Apache-2.0
"""The launcher end to end: spawned ranks (and torchrun's) with a real late rank, on CPUs with gloo;
on two or more GPUs (``multigpu``), plain NCCL against the host-barrier fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import waitbench
from waitbench.nccl import launch
from waitbench.results import load_records, validate

torch = pytest.importorskip("torch", reason="waitbench nccl needs torch (pip install 'waitbench[torch]')")

LATE_S = 0.5
# The waiting rank reaches the collective when its sleep until the common start t0 returns, which
# can overshoot t0 by scheduler jitter while the late rank's arrival is stamped on its own clock read:
# the measured wait may fall short of LATE_S by that jitter, never by more.
SCHEDULE_JITTER_S = 0.1
# From the single-H100 recordings (tests/data/telemetry): every device waiter read 95.7-100% reported.
BUSY_NVML_UTIL_PCT = 90.0
# From the same recordings: host-side and front-end waits read 0.0% (the host-barrier mode's waiting rank).
IDLE_NVML_UTIL_PCT = 10.0


@pytest.fixture(scope="module")
def gloo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("launch") / "gloo.jsonl"
    records = launch.run(["nccl", "nccl+blocking-wait", "cupy-nccl"], out=out, nproc=2, backend="gloo",
                         late_s=LATE_S, late_rank=0, argv=["test"])
    return out, records


def _by(records, mode, rank, workload=None):
    (rec,) = [r for r in records if r["strategy"] == mode and r["rank"] == rank and r["workload"] == workload]
    return rec


def test_every_rank_of_every_mode_reports(gloo_run):
    out, records = gloo_run
    assert records == load_records(out)
    assert [(r["strategy"], r["rank"]) for r in records] == [
        ("nccl", 0), ("nccl", 1), ("nccl+blocking-wait", 0), ("nccl+blocking-wait", 1), ("cupy-nccl", 0),
        ("cupy-nccl", 1)]
    for rec in records:
        validate(rec)


def test_the_waiting_rank_waits_for_the_late_one(gloo_run):
    _, records = gloo_run
    for mode in ("nccl", "nccl+blocking-wait"):
        late, waiting = _by(records, mode, 0), _by(records, mode, 1)
        assert late["status"] == waiting["status"] == "ok", (late["status_detail"], waiting["status_detail"])
        assert (late["role"], waiting["role"]) == ("late", "waiting")
        assert waiting["wait_s"] >= LATE_S - SCHEDULE_JITTER_S
        assert late["wait_s"] < 0.25 * LATE_S  # it arrives last: nothing left to wait for
        # gloo holds the calling thread until the collective completes
        assert waiting["host_blocked_s"] >= LATE_S - SCHEDULE_JITTER_S
        for rec in (late, waiting):
            assert 0 <= rec["completion_after_late_us"] < 1e6 * LATE_S
            assert 0 <= rec["host_cpu_pct"] <= 100 * os.cpu_count()


def test_gpu_metrics_are_null_with_the_reason(gloo_run):
    _, records = gloo_run
    rec = _by(records, "nccl", 1)
    for name in ("nvml_util_pct", "gpm_sm_util_pct", "power_w", "tput_ratio", "tput_concurrent", "stall_ms"):
        assert rec[name] is None and rec["null_reasons"][name] == "gloo backend: no GPU"
    assert rec["nccl_version"] is None and rec["backend"] == "gloo" and rec["workload"] is None


def test_a_mode_that_cannot_run_is_recorded_as_skipped(gloo_run):
    _, records = gloo_run
    for rank in (0, 1):
        rec = _by(records, "cupy-nccl", rank)
        assert rec["status"] == "skipped" and rec["status_detail"].startswith("cupy-nccl needs")
        assert rec["completion_after_late_us"] is None and rec["null_reasons"]["completion_after_late_us"]


def test_required_and_mode_env_reach_the_ranks_and_do_not_leak(gloo_run):
    _, records = gloo_run
    for rec in records:
        assert rec["extra"]["env"]["NCCL_NVLS_ENABLE"] == os.environ.get("NCCL_NVLS_ENABLE", "0")
        assert rec["extra"]["env"]["TORCH_SYMM_MEM_DISABLE_MULTICAST"] == "1"
    assert _by(records, "nccl+blocking-wait", 1)["extra"]["env"]["TORCH_NCCL_BLOCKING_WAIT"] == "1"
    assert "TORCH_NCCL_BLOCKING_WAIT" not in _by(records, "nccl", 1)["extra"]["env"]
    assert "TORCH_NCCL_BLOCKING_WAIT" not in os.environ


def test_set_required_env_keeps_a_users_value(monkeypatch):
    monkeypatch.setenv("NCCL_NVLS_ENABLE", "1")
    monkeypatch.delenv("TORCH_SYMM_MEM_DISABLE_MULTICAST", raising=False)
    launch.set_required_env()
    assert os.environ["NCCL_NVLS_ENABLE"] == "1"
    assert os.environ["TORCH_SYMM_MEM_DISABLE_MULTICAST"] == "1"


def test_under_torchrun_needs_its_whole_environment(monkeypatch):
    for key in launch.TORCHRUN_ENV:
        monkeypatch.setenv(key, "0")
    assert launch.under_torchrun()
    monkeypatch.delenv("MASTER_ADDR")
    assert not launch.under_torchrun()


@pytest.mark.parametrize("kwargs, argument", [
    ({"late_rank": 2}, "--late-rank"), ({"late_s": 0.0}, "--late-s"), ({"nproc": 1}, "world_size"),
    ({"nproc": None}, "--nproc"), ({"collectives": ("scatter",)}, "--collective"), ({"backend": "mpi"}, "--backend"),
    ({"numels": (0,)}, "--numel"), ({"protocols": ("LL64",)}, "--protocols"),
])
def test_bad_arguments_raise_before_anything_starts(tmp_path, kwargs, argument):
    args = {"out": tmp_path / "x.jsonl", "nproc": 2, "backend": "gloo", **kwargs}
    with pytest.raises(ValueError, match=f"^{argument}="):
        launch.run(["nccl"], **args)
    assert not (tmp_path / "x.jsonl").exists()


def test_runs_unchanged_under_torchrun(tmp_path):
    out = tmp_path / "torchrun.jsonl"
    env = {**os.environ, "PYTHONPATH": str(Path(waitbench.__file__).resolve().parents[1])}
    # --standalone: torchrun's own store on a port the OS picks, so parallel jobs cannot collide
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "waitbench", "nccl", "--backend", "gloo", "--late-s", str(LATE_S), "--late-rank", "1",
           "--modes", "nccl+host-barrier", "--out", str(out), "--json", "--quiet"]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = load_records(out)
    assert [(r["rank"], r["role"], r["status"]) for r in records] == [(0, "waiting", "ok"), (1, "late", "ok")]
    assert records[0]["wait_s"] >= LATE_S - SCHEDULE_JITTER_S
    assert len(json.loads(proc.stdout)) == 2  # rank 0 alone prints


def _cuda_gpus() -> int:
    try:
        return torch.cuda.device_count()
    except Exception:  # noqa: BLE001
        return 0


def test_four_gloo_ranks_two_cells_and_wake_trials(tmp_path):
    records = launch.run(["nccl"], out=tmp_path / "four.jsonl", nproc=4, backend="gloo", late_s=LATE_S, late_rank=2,
                         collectives=("all_reduce", "broadcast"), wake_trials=3, record=tmp_path / "rec.jsonl")
    assert [(r["rank"], r["collective"]) for r in records] == [  # by rank, then cell
        (rank, c) for rank in range(4) for c in ("all_reduce", "broadcast")]
    for rec in records:
        assert rec["status"] == "ok", rec["status_detail"]
        if rec["role"] == "late":
            assert rec["wake_trials"] is None and "late rank" in rec["null_reasons"]["wake_trials"]
        else:  # gloo on CPUs: a real late rank, a real completion after it
            assert rec["wake_trials"] == 3 and rec["wake_rtt_p50_us"] > 0 and rec["wake_floor_rtt_p50_us"] > 0
            assert rec["wait_s"] >= LATE_S - SCHEDULE_JITTER_S
    assert not (tmp_path / "rec.jsonl").exists()  # gloo has no telemetry windows: nothing recorded, no file made


def _cuda_gpus() -> int:
    try:
        return torch.cuda.device_count()
    except Exception:  # noqa: BLE001
        return 0


@pytest.mark.multigpu
@pytest.mark.skipif(_cuda_gpus() < 2, reason=f"needs two or more CUDA GPUs (torch sees {_cuda_gpus()})")
def test_plain_nccl_reads_busy_and_the_host_barrier_idle(tmp_path):
    records = launch.run(["nccl", "nccl+host-barrier"], out=tmp_path / "gpu.jsonl", nproc=2, backend="nccl",
                         late_s=2.5, late_rank=0, wake_trials=10, record=tmp_path / "rec.jsonl")
    for mode in ("nccl", "nccl+host-barrier"):
        for w in ("fma", "gemm"):
            rec = _by(records, mode, 1, w)
            # measured during the wait, not held up by it (the workloads are built before the wait)
            assert rec["status"] == "ok", rec["status_detail"]
            assert 0.3 < rec["tput_ratio"] <= 1.1, (mode, w, rec["tput_ratio"])
            assert rec["nvml_util_pct"] is not None, rec["null_reasons"].get("nvml_util_pct")
            assert rec["wake_trials"] == 10 and rec["wake_rtt_p50_us"] > 0
    plain, fixed = _by(records, "nccl", 1, "fma"), _by(records, "nccl+host-barrier", 1, "fma")
    assert plain["nvml_util_pct"] >= BUSY_NVML_UTIL_PCT and plain["verdict"] == "busy-waiting", plain["verdict_reason"]
    assert fixed["nvml_util_pct"] <= IDLE_NVML_UTIL_PCT and fixed["verdict"] == "idle", fixed["verdict_reason"]
    assert "nccl" in plain["extra"]["nccl_kernel"].lower() and plain["waiter_blocks"] >= 1
    assert plain["nccl_version"] and plain["gpu_uuid"].startswith("GPU-")
    # the power baseline is warm and settled: a host wait reads within noise of it, never tens of W below
    assert abs(fixed["power_delta_w"]) < 20.0, fixed["power_delta_w"]
    labels = [json.loads(line)["scenario"] for line in (tmp_path / "rec.jsonl").read_text().splitlines()]
    assert "nccl:nccl/auto/all_reduce/4B/waiting" in labels and "nccl:nccl+host-barrier/idle-warm/rank1" in labels


@pytest.mark.multigpu
@pytest.mark.skipif(_cuda_gpus() < 2, reason=f"needs two or more CUDA GPUs (torch sees {_cuda_gpus()})")
def test_side_calls_say_which_calls_wait_for_the_late_rank(tmp_path):
    records = launch.run(["nccl"], out=tmp_path / "calls.jsonl", nproc=2, backend="nccl", late_s=1.5, late_rank=0,
                         calls=("cudaMalloc", "cudaDeviceSynchronize"))
    by = {r["side_call"]: r for r in records}
    assert set(by) == {"cudaMalloc", "cudaDeviceSynchronize"}, [r["status_detail"] for r in records]
    # a device-wide synchronize must wait for the spinning collective: it returns only after the arrival
    assert by["cudaDeviceSynchronize"]["side_call_after_late_ms"] > 0
    assert all(r["status"] == "ok" for r in records)
