# SPDX-License-Identifier: Apache-2.0
"""``waitbench diagnose``: exit codes and one-line messages, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from waitbench.telemetry import nvml
from waitbench.telemetry.recording import RecordingWriter
from waitbench.telemetry.summary import WindowSummary

ROOT = Path(__file__).resolve().parents[2]
NO_NVML = nvml.unavailable_reason()
SYNTHETIC_GPU = "SYNTHETIC GPU (test fixture, not a measurement)"


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "waitbench", "diagnose", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("waitbench: ")
    return lines[0]


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    """A recording of one SYNTHETIC window: a 1-warp waiter as the counters would show it (made-up numbers)."""
    s = WindowSummary(uuid="GPU-00000000-0000-0000-0000-000000000000", index=None, nvml_index=0, name=SYNTHETIC_GPU,
                      window_s=3.0, nvml_util_pct=100.0, nvml_mem_util_pct=0.0, gpm_sm_util_pct=0.8,
                      gpm_sm_occupancy_pct=0.02, gpm_tensor_util_pct=0.0, gpm_fp32_util_pct=0.0,
                      gpm_fp16_util_pct=0.0, gpm_fp64_util_pct=0.0, gpm_int_util_pct=0.0, gpm_dram_bw_util_pct=0.0,
                      power_w=90.0, power_limit_w=700.0, processes=[{"pid": 4242, "name": "python"}])
    path = tmp_path / "synthetic.jsonl"
    with RecordingWriter(path) as w:
        w.window(s, label="SYNTHETIC")
    return path


@pytest.mark.skipif(NO_NVML is None, reason="NVML works here; this tests the machine without it")
@pytest.mark.parametrize("args", [(), ("--json",), ("--gpus", "0", "--seconds", "1")])
def test_no_nvml_is_one_line_exit_1(args):
    proc = run(*args)
    assert proc.returncode == 1
    assert "NVML" in one_line_error(proc)
    assert proc.stdout == ""


@pytest.mark.parametrize("args, needle", [
    (("--seconds", "0.5"), "--seconds=0.5 is invalid"),
    (("--seconds", "nan"), "--seconds=nan is invalid"),
    (("--seconds", "abc"), "invalid float value"),
    (("--gpus", "zero"), "--gpus='zero' is invalid"),
    (("--gpus", "0,,1"), "--gpus='0,,1' is invalid"),
    (("--record", "/no/such/dir/x.jsonl"), "its directory does not exist"),
    (("--replay", "/no/such/file.jsonl"), "no such recording"),
    (("--bogus",), "unrecognized arguments"),
])
def test_bad_usage_is_one_line_exit_2(args, needle):
    proc = run(*args)
    assert proc.returncode == 2, proc.stderr
    assert needle in one_line_error(proc)


def test_replay_with_live_flags_is_usage_error(recording):
    proc = run("--replay", str(recording), "--seconds", "2")
    assert proc.returncode == 2
    assert "--replay" in one_line_error(proc)


def test_replay_prints_table_verdict_and_hint(recording):
    proc = run("--replay", str(recording))
    assert proc.returncode == 0, proc.stderr
    assert "busy-waiting" in proc.stdout
    assert "a host barrier before the collective frees the GPU" in proc.stdout
    assert SYNTHETIC_GPU[:20] in proc.stdout


def test_replay_json_is_parseable(recording):
    proc = run("--replay", str(recording), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows[0]["verdict"] == "busy-waiting" and rows[0]["gpu"] == "nvml:0"
    assert rows[0]["hint"].startswith("a resident kernel is waiting")
    assert rows[0]["inputs"]["thresholds"]


def test_help_mentions_record_and_replay():
    proc = run("--help")
    assert proc.returncode == 0
    assert "--replay" in proc.stdout and "nvidia-smi" in proc.stdout


@pytest.mark.gpu
def test_live_diagnose_json_on_a_gpu(tmp_path):
    rec = tmp_path / "live.jsonl"
    proc = run("--seconds", "1", "--json", "--record", str(rec))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows and all(r["verdict"] in ("idle", "busy", "busy-waiting", "shared", "unknown") for r in rows)
    assert rec.read_text().count('"kind":"window"') == len(rows)
