# SPDX-License-Identifier: Apache-2.0
"""The rank processes die with their parent; Ctrl-C keeps what was measured; bad arguments exit 2 at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from waitbench import results

CHILD_SCRIPT = """
import multiprocessing as mp, os, sys, time
from waitbench.dispatch.ranks import die_with_parent

def child(ppid):
    die_with_parent(ppid)
    time.sleep(120)

if __name__ == "__main__":
    p = mp.get_context("spawn").Process(target=child, args=(os.getpid(),))
    p.start()
    print(p.pid, flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


def _marked(mark: str) -> list[int]:
    """Processes whose environment holds ``mark`` (the command's rank processes inherit it)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if mark.encode() in (d / "environ").read_bytes() and _alive(int(d.name)):
                    out.append(int(d.name))
            except OSError:
                continue
    return out


def _until(predicate, within_s: float) -> bool:
    limit = time.monotonic() + within_s
    while time.monotonic() < limit:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_a_rank_dies_with_its_parent(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(CHILD_SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert _until(lambda: _alive(child), 10.0)
        time.sleep(1.0)  # the child has set PR_SET_PDEATHSIG by now (it imports waitbench first)
        parent.kill()  # SIGKILL: no atexit, no multiprocessing clean-up
        parent.wait(10)
        assert _until(lambda: not _alive(child), 10.0), "the child outlived its parent"
    finally:
        parent.kill()


def _cli(args: list[str], mark: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "WAITBENCH_TEST_MARK": mark}
    return subprocess.Popen([sys.executable, "-m", "waitbench", "dispatch", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_ctrl_c_keeps_results_and_ends_every_rank(tmp_path: Path) -> None:
    out, mark = tmp_path / "r.jsonl", uuid.uuid4().hex
    proc = _cli(["--modes", "floor,shm-ring-futex", "--requests", "20", "--warmup", "2", "--idle-s", "30",
                 "--timeout-s", "60", "--out", str(out)], mark)
    try:
        for line in proc.stderr:
            if "shm-ring-futex: 2 ranks started" in line:
                break
        time.sleep(1.5)  # the ranks are in the idle window
        assert len(_marked(mark)) >= 3  # the command and its two ranks
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    recs = results.load_records(out)
    assert [(r["strategy"], r["status"]) for r in recs] == [("floor", "ok"), ("shm-ring-futex", "aborted")]
    assert recs[1]["dispatch_requests"] == 0 and "interrupted" in recs[1]["status_detail"]
    assert _until(lambda: not _marked(mark), 10.0), "rank processes outlived the command"


@pytest.mark.parametrize("args", [
    ["--ranks", "1"],
    ["--ranks", "two"],
    ["--modes", "floor,bogus"],
    ["--rate", "-5"],
    ["--idle-s", "0.1"],
    ["--idle-s", "5", "--timeout-s", "3"],
    ["-o", "spin_us=-1"],
    ["-o", "nope=1"],
    ["--pattern", "uniform"],
    ["--requests", "0"],
])
def test_bad_arguments_exit_2_before_any_process_starts(tmp_path: Path, args: list[str]) -> None:
    out, mark = tmp_path / "r.jsonl", uuid.uuid4().hex
    proc = _cli([*args, "--out", str(out)], mark)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "started" not in err and not out.exists()
