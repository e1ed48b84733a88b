# SPDX-License-Identifier: Apache-2.0
"""The launcher end to end: spawned ranks (and torchrun's) with a real late rank, on CPUs with gloo;
on two or more GPUs (``multigpu``), plain NCCL against the host-barrier fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="waitbench nccl needs torch (pip install 'waitbench[torch]')")

import waitbench
from waitbench.nccl import launch
from waitbench.results import load_records, validate

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


def _by(records, mode, rank):
    (rec,) = [r for r in records if r["strategy"] == mode and r["rank"] == rank]
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
    ({"nproc": None}, "--nproc"), ({"collective": "scatter"}, "--collective"), ({"backend": "mpi"}, "--backend"),
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


@pytest.mark.multigpu
@pytest.mark.skipif(_cuda_gpus() < 2, reason=f"needs two or more CUDA GPUs (torch sees {_cuda_gpus()})")
def test_plain_nccl_reads_busy_and_the_host_barrier_idle(tmp_path):
    records = launch.run(["nccl", "nccl+host-barrier"], out=tmp_path / "gpu.jsonl", nproc=2, backend="nccl",
                         late_s=3.0, late_rank=0)
    plain, fixed = _by(records, "nccl", 1), _by(records, "nccl+host-barrier", 1)
    for rec in (plain, fixed):
        assert rec["status"] == "ok", rec["status_detail"]
        assert rec["nvml_util_pct"] is not None, rec["null_reasons"].get("nvml_util_pct")
    assert plain["nvml_util_pct"] >= BUSY_NVML_UTIL_PCT
    assert fixed["nvml_util_pct"] <= IDLE_NVML_UTIL_PCT
    assert plain["nccl_version"] and plain["gpu_uuid"].startswith("GPU-")
