# SPDX-License-Identifier: Apache-2.0
"""The barrier benchmarks' rank processes die with their parent, and Ctrl-C stops them in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import waitbench

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(Path(waitbench.__file__).resolve().parents[1])}
STRESS = [sys.executable, str(ROOT / "benchmarks" / "barrier_stress.py"), "--ranks", "3", "--rounds", "10000000",
          "--spins", "0"]


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(entry))
    return out


def _start(cmd: list[str], ranks: int) -> tuple[subprocess.Popen, list[int]]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True)  # its own process group: a Ctrl-C reaches it and its ranks
    limit = time.monotonic() + 60
    while len(kids := _children(proc.pid)) < ranks:  # the ranks (and the resource tracker)
        assert proc.poll() is None and time.monotonic() < limit, proc.communicate()
        time.sleep(0.05)
    time.sleep(1.0)  # every rank is past its start-up and in its loop
    return proc, kids


def _gone(pids: list[int], within_s: float) -> bool:
    limit = time.monotonic() + within_s
    while time.monotonic() < limit:
        if not [p for p in pids if Path(f"/proc/{p}").exists() and "Z" not in _state(p)]:
            return True
        time.sleep(0.05)
    return False


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "Z"
    return stat[stat.rindex(")") + 2]


def test_rank_processes_die_with_a_killed_parent() -> None:
    proc, kids = _start(STRESS, 3)
    proc.kill()
    proc.wait(timeout=10)
    assert _gone(kids, 5.0), f"rank processes {kids} outlived their parent"


@pytest.mark.parametrize("sig,code,what", [(signal.SIGINT, 130, "interrupted (Ctrl-C)"),
                                           (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_ctrl_c_or_sigterm_stops_the_stress_in_one_line(sig: int, code: int, what: str) -> None:
    proc, kids = _start(STRESS, 3)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # as the terminal does: the whole foreground group
    else:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.strip().splitlines() == [f"barrier_stress: {what}; the runs printed above finished"], err
    assert _gone(kids, 5.0)


def test_ctrl_c_stops_the_latency_benchmark_in_one_line_and_keeps_its_records(tmp_path: Path) -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "barrier_latency.py"), str(tmp_path), "--ranks", "2",
           "--kinds", "shm-futex", "--spins", ",".join(["0"] * 200), "--rounds", "300", "--gap-us", "0",
           "--idle-s", "0"]
    proc, kids = _start(cmd, 1)
    out = tmp_path / "barrier.jsonl"
    limit = time.monotonic() + 60
    while not (out.exists() and out.read_text().count("\n") >= 1):  # a point or more is written
        assert proc.poll() is None and time.monotonic() < limit, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err and last.startswith("barrier_latency: interrupted (Ctrl-C); "), err
    kept = int(last.split("; ")[1].split()[0])
    assert kept >= 1 and out.read_text().count("\n") >= kept
    assert _gone(kids, 5.0)


@pytest.mark.parametrize("delay_s", [0.4, 0.8, 1.2, 2.0])
def test_ctrl_c_at_any_moment_of_start_up_is_one_line_and_leaves_nothing(delay_s: float) -> None:
    """During the imports, while the ranks spawn, while they start, or once they run: always one line.

    Not before the script's first line runs (the interpreter's own start-up, about 0.1 s: Python's
    KeyboardInterrupt there is out of any script's reach).
    """
    proc = subprocess.Popen(STRESS, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True)
    time.sleep(delay_s)
    kids = _children(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("barrier_stress: "), err
    assert _gone(kids, 5.0)
    assert not [f for f in os.listdir("/dev/shm") if f.startswith(f"waitbench.auto-{proc.pid}-")]
