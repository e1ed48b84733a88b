# SPDX-License-Identifier: Apache-2.0
"""``waitbench diagnose``: exit codes and one-line messages, run as a user runs it (a subprocess); replays of
the committed COMPOSED recording (real H100 windows laid out as four GPUs, tests/data/diagnose/make_composed.py);
on a GPU, a waiter and a GEMM in other processes, with and without the probe.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import waitbench
from helpers.composed_windows import COMPOSED_4GPU, RECORDER_PID
from waitbench.telemetry import nvml
from waitbench.telemetry.recording import RecordingWriter
from waitbench.telemetry.summary import WindowSummary

ROOT = Path(__file__).resolve().parents[2]
# Subprocesses import the waitbench this test imported (a source checkout, or the installed package with
# its native core on the device), so a waiter and diagnose's probe child find waitbench._C.
PKG_PATH = str(Path(waitbench.__file__).resolve().parents[1])
NO_NVML = nvml.unavailable_reason()
SYNTHETIC_GPU = "SYNTHETIC GPU (test fixture, not a measurement)"


def run(*args: str, timeout: float = 60, **env_extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=PKG_PATH, COLUMNS="200", **env_extra)
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
    (("--record", "/no/such/dir/x.jsonl"), "a file in an existing directory"),
    (("--replay", "/no/such/file.jsonl"), "/no/such/file.jsonl: no such file"),
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
    for needle in ("--probe-refresh", "~/.cache/waitbench/", "probe-<uuid>-<driver>.json", "--serve",
                   "127.0.0.1", "--watch", "--ignore-gpm", "docs/DIAGNOSE.md"):
        assert needle in proc.stdout, needle


def test_replay_of_the_composed_recording_names_holder_and_late_rank():
    proc = run("--replay", str(COMPOSED_4GPU))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("waitbench diagnose (replay of") == 3
    assert (f"late rank: GPUs 0,2,3 wait; GPU 1 does not (idle with compute process pid {RECORDER_PID}: nothing "
            "enqueued, its host side is behind): GPU 1 is likely the late rank") in proc.stdout
    assert f"holder: pid {RECORDER_PID}: the only compute process on this GPU" in proc.stdout
    assert "(composed)" in proc.stdout and "idle (late?)" in proc.stdout


def test_docs_example_output_is_what_replay_prints():
    doc = (ROOT / "docs" / "DIAGNOSE.md").read_text()
    example = doc.split("## Example output", 1)[1].split("```", 2)[1]
    note = re.compile(r"^(GPU \d|  (hint|process|holder|probe|note|disagreement): |late rank: )")
    notes = [line for line in example.splitlines() if note.match(line)]  # the table's layout follows the width
    assert len(notes) >= 10
    proc = run("--replay", str(COMPOSED_4GPU))
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout.splitlines()
    assert all(line in printed for line in notes), [line for line in notes if line not in printed]


def test_replay_json_carries_refreshes_and_late_rank():
    proc = run("--replay", str(COMPOSED_4GPU), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["refresh"] for r in rows] == [0] * 4 + [1] * 4 + [2] * 4
    assert [r["gpu"] for r in rows[-4:] if r["likely_late"]] == ["1"]
    assert rows[0]["late_rank"] is None and rows[-1]["late_rank"].startswith("GPUs 0,2,3 wait")


@pytest.mark.parametrize("args, needle", [
    (("--probe",), "--probe"), (("--watch",), "--watch"), (("--probe-refresh",), "--probe-refresh"),
    (("--gpus", "0", "--watch"), "--gpus, --watch"),
])
def test_replay_refuses_live_flags(args, needle):
    proc = run("--replay", str(COMPOSED_4GPU), *args)
    assert proc.returncode == 2
    assert f"it takes no {needle}" in one_line_error(proc)


@pytest.mark.parametrize("address", ["abc", "70000", "::1:9400", ":9400", "9400:x"])
def test_bad_serve_address_is_one_line_exit_2_before_any_gpu_work(address):
    for extra in ((), ("--replay", str(COMPOSED_4GPU))):
        proc = run("--serve", address, *extra)
        assert proc.returncode == 2, proc.stderr
        assert one_line_error(proc).startswith(f"waitbench: --serve={address!r} is invalid: expected [ADDR:]PORT")


@pytest.mark.skipif(NO_NVML is None, reason="NVML works here; this tests the machine without it")
def test_record_without_nvml_leaves_no_file(tmp_path):
    rec = tmp_path / "new.jsonl"
    proc = run("--record", str(rec))
    assert proc.returncode == 1 and "NVML" in one_line_error(proc)
    assert not rec.exists()


@pytest.mark.parametrize("make_args, needle", [
    (lambda d: ("--record", str(d)), "--record='{d}' is invalid: expected a file, not a directory"),
    (lambda d: ("--replay", str(d)), "{d}: is a directory, not a waitbench telemetry recording"),
    (lambda d: ("--replay", "/proc/self/mem"), "/proc/self/mem: cannot read it (Input/output error)"),
    (lambda d: ("--replay", str(COMPOSED_4GPU), "--serve", "0.0.0.0:0"),
     ("--serve='0.0.0.0:0' is invalid: expected a loopback address (127.0.0.1, ::1, localhost) unless "
     "--serve-public is also given")),
])
def test_files_and_addresses_are_one_line_exit_2(tmp_path, make_args, needle):
    args = make_args(tmp_path)
    if "/proc/self/mem" in args and not Path("/proc/self/mem").exists():
        pytest.skip("no /proc/self/mem here")
    proc = run(*args)
    assert proc.returncode == 2, proc.stderr
    assert needle.format(d=tmp_path) in one_line_error(proc)


def test_replay_streams_the_same_rows_replay_refreshes_returns():
    from waitbench.diagnose import replay_refreshes, rows_to_json

    proc = run("--replay", str(COMPOSED_4GPU), "--json")
    expected = [row for ref in replay_refreshes(COMPOSED_4GPU) for row in rows_to_json(ref.rows)]
    assert proc.stdout == json.dumps(expected, indent=2, default=str) + "\n"


@pytest.mark.parametrize("width", [80, 100])
def test_replay_table_fits_80_and_100_columns(width):
    env = dict(os.environ, PYTHONPATH=PKG_PATH, COLUMNS=str(width))
    proc = subprocess.run([sys.executable, "-m", "waitbench", "diagnose", "--replay", str(COMPOSED_4GPU)],
                          capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    table = [line for line in proc.stdout.splitlines() if not line.startswith(("GPU ", "  ", "late rank:"))]
    assert max(len(line) for line in table) <= width
    assert "…" not in proc.stdout
    rows = [line for line in table if line.startswith(("0 ", "1 ", "2 ", "3 "))]
    assert len(rows) == 12  # one line per GPU and refresh, never wrapped into several
    assert all(line.rstrip().endswith(("busy", "busy-waiting", "idle", "(late?)")) for line in rows), rows


@pytest.mark.gpu
def test_live_diagnose_json_on_a_gpu(tmp_path):
    rec = tmp_path / "live.jsonl"
    proc = run("--seconds", "1", "--json", "--record", str(rec))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows and all(r["verdict"] in ("idle", "busy", "busy-waiting", "shared", "unknown") for r in rows)
    assert rec.read_text().count('"kind":"window"') == len(rows)


# --- GPU: processes other than diagnose's own, found from outside (run on the device) ---------------------

WAITER = """
import sys, waitbench
with waitbench.Waiter("spin", gpu=0, timeout_s=60.0):
    print("armed", flush=True)
    sys.stdin.readline()
"""
GEMM = """
import sys, threading, torch
a = torch.randn(8192, 8192, device="cuda:0", dtype=torch.bfloat16)
b = torch.randn_like(a)
stop = threading.Event()
def loop():
    while not stop.is_set():
        for _ in range(10):
            torch.matmul(a, b)
        torch.cuda.synchronize()
threading.Thread(target=loop, daemon=True).start()
print("running", flush=True)
sys.stdin.readline()
stop.set()
"""


def gpu0_uuid() -> str:
    from waitbench._native import native

    return str(native().device_info(0)["uuid"])


def read_line(proc: subprocess.Popen, timeout_s: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    assert ready, f"no line within {timeout_s} s"
    return proc.stdout.readline()


@contextlib.contextmanager
def other_process(code: str) -> Iterator[subprocess.Popen]:
    """``python -c code`` on GPU 0 until the block ends; it prints one line once its GPU work runs."""
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=PKG_PATH))
    try:
        assert read_line(proc, 60).strip() in ("armed", "running")
        yield proc
    finally:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write("\n")
            proc.stdin.flush()
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()


def only_row(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    return row


@pytest.mark.gpu
def test_waiter_in_another_process_is_busy_waiting_with_its_pid():
    uuid = gpu0_uuid()
    with other_process(WAITER) as waiter:
        row = only_row(run("--gpus", uuid, "--seconds", "2", "--json"))
    assert row["verdict"] == "busy-waiting", row["reason"]
    assert waiter.pid in [p["pid"] for p in row["processes"]]
    assert row["holder"]["pid"] == waiter.pid, row["holder"]


@pytest.mark.gpu
def test_probe_finds_the_waiter_with_gpm_and_with_gpm_ignored(tmp_path):
    uuid, cache = gpu0_uuid(), str(tmp_path)
    first = run("--gpus", uuid, "--seconds", "1", "--probe", "--json", XDG_CACHE_HOME=cache)
    assert "probing every watched GPU" in first.stderr  # announced before it ran
    idle = only_row(first)
    assert idle["verdict"] == "idle" and idle["probe"]["baseline"]["source"] == "measured now", idle["probe"]
    with other_process(WAITER) as waiter:
        counted = only_row(run("--gpus", uuid, "--seconds", "1", "--probe", "--json", XDG_CACHE_HOME=cache))
        blind = only_row(run("--gpus", uuid, "--seconds", "1", "--probe", "--ignore-gpm", "--json",
                             XDG_CACHE_HOME=cache))
    assert counted["verdict"] == "busy-waiting" and counted["holder"]["pid"] == waiter.pid
    assert counted["probe"]["state"] in ("free", "contended", "blocked"), counted["probe"]
    assert blind["gpm_sm_util_pct"] is None and blind["holder"]["pid"] == waiter.pid
    # Measured on the H100 and the H200 (no MPS): the driver time-slices the probe's context against the
    # waiter's, so the probe gets about half the GPU whether the other kernel waits or works: it cannot
    # call it. The counters can: no memory traffic, and power near the warm-idle baseline the first
    # probe measured on the idle GPU; medium confidence, and the probe's reading is said beside it.
    assert idle["probe"]["baseline"]["power_warm_idle_w"] > 0, idle["probe"]
    assert blind["probe"]["state"] == "contended", blind["probe"]
    assert (blind["verdict"], blind["confidence"]) == ("busy-waiting", "medium"), (blind["reason"], blind["probe"])
    assert "warm-idle baseline" in blind["reason"] and blind["disagreement"], blind


@pytest.mark.gpu
def test_gemm_in_another_process_reads_busy():
    pytest.importorskip("torch")
    uuid = gpu0_uuid()
    with other_process(GEMM) as gemm:
        row = only_row(run("--gpus", uuid, "--seconds", "2", "--json"))
    assert row["verdict"] == "busy", row["reason"]
    assert gemm.pid in [p["pid"] for p in row["processes"]]


@pytest.mark.gpu
def test_watch_redraws_until_interrupted_and_records(tmp_path):
    rec = tmp_path / "watch.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "waitbench", "diagnose", "--gpus", gpu0_uuid(), "--seconds", "1",
                             "--watch", "--json", "--record", str(rec)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=PKG_PATH))
    try:
        refreshes = [json.loads(read_line(proc, 30)) for _ in range(2)]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [rows[0]["refresh"] for rows in refreshes] == [0, 1]
    replayed = json.loads(run("--replay", str(rec), "--json").stdout)
    assert [r["refresh"] for r in replayed][:2] == [0, 1]
