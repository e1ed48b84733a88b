# SPDX-License-Identifier: Apache-2.0
"""benchmarks/barrier_latency.py end to end on CPUs (a few rounds), its usage errors, and --gpu without one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import waitbench
from waitbench._native import gpu_unavailable_reason

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "barrier_latency.py"
ENV = {**os.environ, "PYTHONPATH": str(Path(waitbench.__file__).resolve().parents[1])}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300, env=ENV)


def test_cpu_leg_writes_one_record_per_kind_and_prints_the_table(tmp_path: Path) -> None:
    proc = run(str(tmp_path), "--ranks", "2", "--kinds", "shm-futex,mp-barrier", "--spins", "0,50", "--rounds", "30",
               "--idle-s", "0.05", "--machine", "test-box")
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(line) for line in (tmp_path / "barrier.jsonl").read_text().splitlines()]
    assert [(r["options"]["kind"], r["options"].get("spin_us")) for r in recs] == [
        ("shm-futex", 0), ("shm-futex", 50), ("mp-barrier", None)]
    assert {r["extra"]["machine"] for r in recs} == {"test-box"} and len({r["run_id"] for r in recs}) == 1
    lines = proc.stdout.splitlines()
    assert any(line.startswith("shm-futex spin=50") and line.split()[2] == "2" for line in lines)
    assert any(line.startswith("mp-barrier") for line in lines)


def test_an_unknown_kind_is_a_usage_error(tmp_path: Path) -> None:
    proc = run(str(tmp_path), "--kinds", "shm-futex,nccl")
    assert proc.returncode == 2 and "--kinds='nccl' is invalid: expected kinds from shm-futex" in proc.stderr


@pytest.mark.skipif(gpu_unavailable_reason() is None, reason="a GPU is present: the GPU leg would run")
def test_gpu_leg_without_a_gpu_says_so_in_one_line(tmp_path: Path) -> None:
    proc = run(str(tmp_path), "--gpu")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("barrier_latency: --gpu: ")
