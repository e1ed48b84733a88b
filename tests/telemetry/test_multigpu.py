# SPDX-License-Identifier: Apache-2.0
"""Every sampling path on every visible GPU at once (``multigpu``): diagnose, --watch, --serve, Monitor and
the runner. On two H200s diagnose died with SIGSEGV within a second whenever two GPUs were sampled
(concurrent GPM calls, fixed in telemetry/nvml.py); these run as a user would, in subprocesses where a
crash shows as an exit status.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import waitbench

PKG_PATH = str(Path(waitbench.__file__).resolve().parents[1])


def _gpus() -> int:
    try:
        from waitbench._native import native

        return native().device_count()
    except Exception:  # noqa: BLE001
        return 0


pytestmark = pytest.mark.multigpu
ENV = dict(os.environ, PYTHONPATH=PKG_PATH)


def _cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "waitbench", *args], capture_output=True, text=True, timeout=timeout,
                          env=ENV)


def test_diagnose_on_every_gpu_at_once():
    proc = _cli("diagnose", "--seconds", "1", "--json")
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    rows = json.loads(proc.stdout)
    assert len({r["uuid"] for r in rows}) == _gpus()
    assert all(r["gpm_sm_util_pct"] is not None or "GPM" in r["null_reasons"]["gpm_sm_util_pct"] for r in rows)
    proc = _cli("diagnose", "--seconds", "1", "--json", "--ignore-gpm")
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"


def test_watch_on_every_gpu_refreshes_until_interrupted():
    proc = subprocess.Popen([sys.executable, "-m", "waitbench", "diagnose", "--seconds", "1", "--watch", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        refreshes = []
        deadline = time.monotonic() + 60
        while len(refreshes) < 3 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            refreshes.append(json.loads(line))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0, proc.stderr.read()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [len(rows) for rows in refreshes] == [_gpus()] * 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_on_every_gpu_exports_every_gpu():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "waitbench", "diagnose", "--serve", f"127.0.0.1:{port}",
                             "--seconds", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        gpus: set[str] = set()
        deadline = time.monotonic() + 60
        while len(gpus) < _gpus() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(1.0)
            try:
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            except OSError:
                continue
            gpus = {line.split('gpu="')[1].split('"')[0] for line in text.splitlines()
                    if line.startswith("waitbench_busy_waiting{")}
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        assert len(gpus) == _gpus(), gpus
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_monitor_and_the_runner_on_every_gpu():
    code = f"""
import json, time
from waitbench import Monitor, measure
n = {_gpus()}
with Monitor(list(range(n))) as m:
    time.sleep(1.2)
rows = m.summary()
out = {{"monitor": [r.verdict for r in rows.values()], "runner": []}}
for gpu in range(n):
    recs = measure("host-block", workloads=["fma"], gpu=gpu, seconds=0.3)
    out["runner"].append([r["status"] for r in recs])
print(json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=ENV)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(out["monitor"]) == _gpus() and all(v in ("idle", "shared") for v in out["monitor"]), out
    assert out["runner"] == [["ok", "ok"]] * _gpus(), out
