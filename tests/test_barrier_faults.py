# SPDX-License-Identifier: Apache-2.0
"""HostBarrier under faults, with real processes and real kills (CPU only).

A rank that dies before its first wait, after arriving, or closes its handle between rounds; a
creator killed before it waits; a fork()ed child exiting; a full /dev/shm; forged and foreign
segments; many creators taking over one dead creator's name at once; reset(); a stopped rank.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import waitbench
from waitbench.barrier import HostBarrier
from waitbench.errors import BarrierBroken

PKG_PATH = str(Path(waitbench.__file__).resolve().parents[1])
ENV = {**os.environ, "PYTHONPATH": PKG_PATH}
BOUND_S = 1.0  # the promise: a fault fails every other rank within a second
CREATOR_PID_OFFSET = 16  # Layout: magic u64, version u32, parties u32, creator_pid i32


def _child(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)


def _broken_within_bound(b: HostBarrier, t_fault: float) -> BarrierBroken:
    with pytest.raises(BarrierBroken) as err:
        b.wait(timeout=30)
    assert time.monotonic() - t_fault < BOUND_S, "the fault was noticed too late"
    return err.value


OPEN_AND_STAY = ("import sys, time, waitbench\nb = waitbench.HostBarrier.open(sys.argv[1], timeout_s=30)\n"
                 "print(b.rank, flush=True)\ntime.sleep(60)\n")


def test_a_rank_killed_after_open_before_its_first_wait_fails_the_others() -> None:
    with HostBarrier(None, 2, timeout_s=30) as b:
        proc = _child(OPEN_AND_STAY, b.name)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "0"  # b takes rank 1 at its wait
        proc.kill()
        proc.wait(timeout=10)
        e = _broken_within_bound(b, time.monotonic())
        assert (e.reason, e.dead_rank, e.dead_pid) == ("rank-died", 0, proc.pid)
        assert f"rank 0 (pid {proc.pid}) exited or was killed" in str(e)


def _hold(barrier: HostBarrier, out: Any) -> None:
    """A spawned rank that received the barrier pickled (a Process argument) and never waits."""
    out.put(barrier.rank)
    time.sleep(60)


def test_a_rank_that_received_it_pickled_and_died_before_waiting_fails_the_others() -> None:
    ctx = mp.get_context("spawn")
    with HostBarrier(None, 2, timeout_s=30) as b:
        out = ctx.Queue()
        proc = ctx.Process(target=_hold, args=(b, out), daemon=True)
        proc.start()
        rank = out.get(timeout=30)  # its rank was taken when the argument was unpickled
        proc.kill()
        proc.join(timeout=10)
        e = _broken_within_bound(b, time.monotonic())
        assert (e.reason, e.dead_rank, e.dead_pid) == ("rank-died", rank, proc.pid)


def test_a_dead_arrived_rank_is_never_replaced_by_a_newcomer() -> None:
    code = ("import sys, waitbench\nb = waitbench.HostBarrier.open(sys.argv[1], timeout_s=30, rank=1)\n"
            "print('in', flush=True)\nb.wait()\n")
    with HostBarrier(None, 3, timeout_s=30, rank=0) as b:
        victim = _child(code, b.name)
        assert victim.stdout is not None and victim.stdout.readline().strip() == "in"
        deadline = time.monotonic() + 10
        while b.n_waiting < 1:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        victim.kill()
        victim.wait(timeout=10)
        with pytest.raises(ValueError, match=rf"rank=1 is invalid: pid {victim.pid} held it and died"):
            HostBarrier.open(b.name, rank=1)
        newcomer = HostBarrier.open(b.name)  # takes the free rank 2, not the dead one's
        assert newcomer.rank == 2
        e = _broken_within_bound(b, time.monotonic())  # the dead rank's arrival does not hide it
        assert (e.reason, e.dead_rank, e.dead_pid) == ("rank-died", 1, victim.pid)
        with pytest.raises(BarrierBroken, match=f"rank 1 \\(pid {victim.pid}\\) exited or was killed"):
            newcomer.wait()
        newcomer.close()


def test_a_rank_that_closes_between_rounds_fails_the_others() -> None:
    with HostBarrier(None, 2, timeout_s=30) as b:
        other = HostBarrier.open(b.name)
        t = threading.Thread(target=other.wait)
        t.start()
        b.wait()
        t.join(timeout=10)
        pid, rank = os.getpid(), other.rank
        other.close()
        e = _broken_within_bound(b, time.monotonic())
        assert (e.reason, e.dead_rank, e.dead_pid) == ("rank-left", rank, pid)
        assert f"rank {rank} (pid {pid}) closed its handle" in str(e)


def test_a_creator_killed_before_it_waits_fails_the_opener() -> None:
    code = ("import sys, time, waitbench\nb = waitbench.HostBarrier(sys.argv[1], 2)\nprint('up', flush=True)\n"
            "time.sleep(60)\n")
    name = f"creator-{os.getpid()}"
    proc = _child(code, name)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
    b = HostBarrier.open(name, timeout_s=30)
    proc.kill()
    proc.wait(timeout=10)
    e = _broken_within_bound(b, time.monotonic())
    assert (e.reason, e.dead_pid) == ("rank-died", proc.pid) and "the creating process" in str(e)
    b.close()


def test_a_stopped_rank_is_late_not_dead() -> None:
    with HostBarrier(None, 2, timeout_s=30) as b:
        proc = _child(OPEN_AND_STAY, b.name)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "0"
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            with pytest.raises(BarrierBroken) as err:
                b.wait(timeout=0.6)  # longer than the liveness period: it was checked and found alive
            assert err.value.reason == "timeout" and err.value.missing == [0]
        finally:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
            proc.wait(timeout=10)


def test_reset_releases_waiters_with_an_error_and_makes_a_broken_barrier_usable() -> None:
    with HostBarrier(None, 2, timeout_s=30) as b:
        other = HostBarrier.open(b.name)
        got: list[str] = []

        def first() -> None:
            try:
                other.wait()
            except BarrierBroken as exc:
                got.append(exc.reason)

        t = threading.Thread(target=first)
        t.start()
        deadline = time.monotonic() + 10
        while b.n_waiting < 1:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        b.reset()
        t.join(timeout=BOUND_S)
        assert got == ["reset"] and b.n_waiting == 0
        b.abort()
        assert b.broken
        b.reset()
        assert not b.broken
        t = threading.Thread(target=other.wait)
        t.start()
        assert b.wait() in (0, 1)
        t.join(timeout=10)
        freed = other.rank
        other.close()
        with pytest.raises(ValueError, match="all held"):
            HostBarrier.open(b.name)
        b.reset()  # frees the closed rank: a restarted process can open it again
        again = HostBarrier.open(b.name)
        assert again.rank == freed
        again.close()


def test_reset_is_what_multiprocessing_barrier_does() -> None:
    ref = mp.get_context("spawn").Barrier(2)
    ref.abort()
    ref.reset()
    with HostBarrier(None, 2) as b:
        b.abort()
        b.reset()
        assert (b.broken, b.n_waiting) == (ref.broken, ref.n_waiting) == (False, 0)


def test_a_forked_child_exiting_leaves_the_parents_barrier_alone() -> None:
    code = ("import os, sys, waitbench\nb = waitbench.HostBarrier(None, 2)\npid = os.fork()\n"
            "if pid == 0:\n    sys.exit(0)\n"  # runs the child's exit handlers and finalizers
            "os.waitpid(pid, 0)\nassert os.path.exists(b.path), 'the fork removed it'\n"
            "waitbench.HostBarrier.open(b.name).close()\n"
            "try:\n    waitbench.HostBarrier(b.name, 2)\nexcept ValueError:\n    print('refused', flush=True)\n"
            "b.close()\nassert not os.path.exists(b.path)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=ENV)
    assert out.returncode == 0 and out.stdout.strip() == "refused", out.stderr
    assert "Traceback" not in out.stderr and "KeyError" not in out.stderr, out.stderr


def test_a_full_dev_shm_is_an_oserror_naming_it_not_sigbus() -> None:
    """A private mount namespace with an 8 KiB tmpfs over /dev/shm (root only, as on CI)."""
    code = "import waitbench\nwaitbench.HostBarrier('full', 2)\n"
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed")
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=8k tmpfs /dev/shm"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a private tmpfs here (needs root): {probe.stderr.strip()}")
    out = subprocess.run(["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o size=8k tmpfs /dev/shm && exec "$@"', "sh",
                          sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=ENV)
    assert out.returncode == 1, (out.returncode, out.stderr)  # a Python exception, not -SIGBUS
    assert "OSError: [Errno 28] no space left in /dev/shm/ for a barrier" in out.stderr, out.stderr


def _forge(name: str, data: bytes, mode: int = 0o600) -> str:
    path = f"/dev/shm/waitbench.{name}"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    os.write(fd, data)
    os.close(fd)
    os.chmod(path, mode)
    return path


def _image() -> bytes:
    with HostBarrier(None, 2) as b:
        return Path(b.path).read_bytes()


@pytest.mark.parametrize("patch,match", [
    (lambda d: d[:12] + struct.pack("<I", 100_000) + d[16:], r"not a valid waitbench barrier: parties=100000"),
    (lambda d: d[:8] + struct.pack("<I", 99) + d[12:], r"version 99, expected 2"),
    (lambda d: b"X" * 8 + d[8:], "bad magic"),
    (lambda d: d[:100], r"size 100 bytes, expected \d+"),
], ids=["parties", "version", "magic", "size"])
def test_open_refuses_a_forged_segment_in_one_line(patch, match: str) -> None:
    name = f"forged-{os.getpid()}"
    path = _forge(name, patch(_image()))
    try:
        with pytest.raises(ValueError, match=match) as err:
            HostBarrier.open(name)
        assert path in str(err.value) and "\n" not in str(err.value)
    finally:
        os.unlink(path)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_open_refuses_a_segment_of_another_user_or_writable_by_others() -> None:
    name = f"foreign-{os.getpid()}"
    path = _forge(name, _image())
    try:
        os.chown(path, 65534, 65534)
        with pytest.raises(PermissionError, match=r"is owned by uid 65534, not by this process's uid 0"):
            HostBarrier.open(name)
        os.chown(path, 0, 0)
        os.chmod(path, 0o666)
        with pytest.raises(PermissionError, match=r"writable by group or others \(mode 666\)"):
            HostBarrier.open(name)
    finally:
        os.unlink(path)


def _race(name: str, rounds: int, start: Any, done: Any, out: Any) -> None:
    """One of the racing creators (a forked process): try to create ``name``, round after round."""
    for _ in range(rounds):
        start.wait()
        try:
            b: HostBarrier | None = HostBarrier(name, 2)
            out.put(1)
        except ValueError:
            b = None
            out.put(0)
        done.wait()  # every creator tried while the owner holds the name
        if b is not None:
            b.close()
        done.wait()


def test_eight_creators_taking_over_a_dead_creators_name_make_exactly_one_owner() -> None:
    creators, rounds = 8, 40
    stale = bytearray(_image())
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale[CREATOR_PID_OFFSET:CREATOR_PID_OFFSET + 4] = struct.pack("<i", int(dead.stdout))  # an exited pid
    ctx = mp.get_context("fork")
    start, done, out = ctx.Barrier(creators + 1, timeout=60), ctx.Barrier(creators + 1, timeout=60), ctx.Queue()
    name = f"race-{os.getpid()}"
    procs = [ctx.Process(target=_race, args=(name, rounds, start, done, out), daemon=True) for _ in range(creators)]
    for p in procs:
        p.start()
    owners = []
    try:
        for _ in range(rounds):
            _forge(name, bytes(stale))
            start.wait()
            owners.append(sum(out.get(timeout=60) for _ in range(creators)))
            done.wait()
            done.wait()
            assert not os.path.exists(f"/dev/shm/waitbench.{name}")
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.exitcode is None:
                p.kill()
    assert owners == [1] * rounds
    assert not [f for f in os.listdir("/dev/shm") if f.startswith(f"waitbench.{name}")]
