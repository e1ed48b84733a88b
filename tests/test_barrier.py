# SPDX-License-Identifier: Apache-2.0
"""waitbench.HostBarrier: a cross-process barrier that never hangs (CPU only: no GPU involved).

Failure cases run real processes: a rank killed with SIGKILL mid-wait, a rank that never arrives, an
abort, Ctrl-C, and the shared-memory segment after close, exit and a killed creator.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import waitbench
from waitbench.barrier import HostBarrier
from waitbench.barrierbench.stress import wait_and_report
from waitbench.errors import BarrierBroken

PKG_PATH = str(Path(waitbench.__file__).resolve().parents[1])  # subprocesses import this waitbench
CTX = mp.get_context("spawn")


def shm_exists(b: HostBarrier) -> bool:
    return os.path.exists(b.path)


def test_parties_wait_and_get_distinct_indexes_in_threads() -> None:
    with HostBarrier(None, 3, timeout_s=10) as b:
        handles = [b] + [HostBarrier.open(b.name, timeout_s=10) for _ in range(2)]
        got: list[list[int]] = [[], [], []]

        def run(i: int) -> None:
            for _ in range(200):
                got[i].append(handles[i].wait())

        threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert all(sorted(col) == [0, 1, 2] for col in zip(*got, strict=True))
        assert sorted(h.rank for h in handles) == [0, 1, 2]
        assert b.last_wait is not None and b.last_wait.wake_ns >= b.last_wait.release_ns
        for h in handles[1:]:
            h.close()


@pytest.mark.parametrize("make", [lambda: CTX.Barrier(3, timeout=30), lambda: HostBarrier(None, 3, timeout_s=30)],
                         ids=["multiprocessing.Barrier", "HostBarrier"])
def test_a_drop_in_for_multiprocessing_barrier_in_a_spawned_children_loop(make) -> None:
    """The same parent and child code (written for multiprocessing.Barrier) runs on either barrier."""
    barrier = make()
    out = CTX.Queue()
    procs = [CTX.Process(target=wait_and_report, args=(barrier, 300, out)) for _ in range(2)]
    for p in procs:
        p.start()
    indexes = [barrier.wait() for _ in range(300)]
    reports = [out.get(timeout=30) for _ in procs]
    _join(procs)
    assert [r[0] for r in reports] == ["ok", "ok"] and set(indexes) <= {0, 1, 2}
    assert [p.exitcode for p in procs] == [0, 0]
    if isinstance(barrier, HostBarrier):
        barrier.close()
        assert not shm_exists(barrier)


def test_timeout_names_the_ranks_that_did_not_arrive() -> None:
    with HostBarrier(None, 3, timeout_s=10) as b:
        idle = HostBarrier.open(b.name, rank=1)  # joined (this process) but never waits
        t0 = time.monotonic()
        with pytest.raises(BarrierBroken) as err:
            b.wait(timeout=0.3)
        assert 0.3 <= time.monotonic() - t0 < 2.0
        e = err.value
        assert e.reason == "timeout" and e.missing == [1, 2]
        assert f"rank 1 (pid {os.getpid()})" in str(e) and "rank 2 (no process has joined)" in str(e)
        assert isinstance(e, threading.BrokenBarrierError) and b.broken
        with pytest.raises(BarrierBroken, match="timed out"):  # broken stays broken
            idle.wait()
        idle.close()


def test_abort_releases_every_waiter_with_an_error() -> None:
    with HostBarrier(None, 3, timeout_s=30) as b:
        out = CTX.Queue()
        procs = [CTX.Process(target=wait_and_report, args=(b, 1, out)) for _ in range(2)]
        for p in procs:
            p.start()
        _until(lambda: b.n_waiting == 2)
        t0 = time.monotonic()
        b.abort()
        reports = [out.get(timeout=10) for _ in procs]
        assert [r[2] for r in reports] == ["aborted", "aborted"]
        assert all(r[4] - t0 < 1.0 for r in reports), "waiters were not released promptly"
        with pytest.raises(BarrierBroken, match="aborted"):
            b.wait()
        _join(procs)


def test_a_rank_killed_mid_wait_fails_the_others_within_a_second() -> None:
    with HostBarrier(None, 3, timeout_s=30) as b:
        out = CTX.Queue()
        procs = [CTX.Process(target=wait_and_report, args=(b, 1, out)) for _ in range(2)]
        for p in procs:
            p.start()
        _until(lambda: b.n_waiting == 2)  # both wait for this process, which does not arrive
        victim = procs[1]
        os.kill(victim.pid, signal.SIGKILL)  # a zombie until joined: it must count as dead anyway
        t0 = time.monotonic()
        status, _, reason, text, t_end, _ = out.get(timeout=10)
        assert (status, reason) == ("broken", "rank-died")
        assert t_end - t0 < 2.0 and f"(pid {victim.pid}) exited or was killed" in text
        with pytest.raises(BarrierBroken, match="exited or was killed") as err:
            b.wait()
        assert err.value.dead_pid == victim.pid
        _join(procs)


def test_ctrl_c_in_a_waiter_raises_keyboardinterrupt_and_releases_the_others() -> None:
    """The child restores Python's SIGINT handler first: a process started with SIGINT ignored (a test
    run launched in the background by a shell without job control) passes SIG_IGN on through exec,
    and Python then installs no handler at all; the child would rightly ignore Ctrl-C and wait out its
    deadline. That inherited disposition, not the barrier, made this test fail in some runs.
    """
    code = ("import signal, sys, waitbench\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "b = waitbench.HostBarrier.open(sys.argv[1], timeout_s=30)\n"
            "print('ready', flush=True)\n"
            "try:\n    b.wait()\nexcept KeyboardInterrupt:\n    print('interrupted', flush=True)\n")
    with HostBarrier(None, 3, timeout_s=30) as b:
        out = CTX.Queue()
        other = CTX.Process(target=wait_and_report, args=(b, 1, out))
        other.start()
        proc = subprocess.Popen([sys.executable, "-c", code, b.name], stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": PKG_PATH})
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        _until(lambda: b.n_waiting == 2)
        proc.send_signal(signal.SIGINT)
        assert proc.stdout.readline().strip() == "interrupted"
        assert proc.wait(timeout=10) == 0
        status, _, reason, _, _, _ = out.get(timeout=10)
        assert (status, reason) == ("broken", "interrupted")
        _join([other])


def test_the_segment_is_removed_at_close_at_exit_and_after_a_killed_creator() -> None:
    b = HostBarrier(None, 2)
    path = b.path
    assert os.path.exists(path)
    opened = pickle.loads(pickle.dumps(b))  # opened by name: closing it removes nothing
    opened.close()
    assert os.path.exists(path)
    b.close()
    assert not os.path.exists(path)
    env = {**os.environ, "PYTHONPATH": PKG_PATH}
    code = "import sys, waitbench\nb = waitbench.HostBarrier(sys.argv[1], 2)\nprint(b.path, flush=True)\n"
    exited = subprocess.run([sys.executable, "-c", code, f"exit-{os.getpid()}"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert exited.returncode == 0 and not os.path.exists(exited.stdout.strip())
    killed = subprocess.Popen([sys.executable, "-c", code + "import time\ntime.sleep(60)\n", f"kill-{os.getpid()}"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert killed.stdout is not None
    kpath = killed.stdout.readline().strip()
    assert os.path.exists(kpath)
    killed.kill()
    killed.wait(timeout=10)
    _until(lambda: not os.path.exists(kpath), 10.0)  # Python's resource tracker removes what it left


def test_a_name_left_by_a_dead_creator_is_taken_over_and_a_live_one_is_refused() -> None:
    with HostBarrier(None, 2) as b, pytest.raises(ValueError, match=r"name=.* is invalid: expected a name no live "
                                                                     "barrier uses"):
        HostBarrier(b.name, 2)
    env = {**os.environ, "PYTHONPATH": PKG_PATH}
    name = f"stale-{os.getpid()}"
    code = ("import os, sys, waitbench\nfrom multiprocessing import resource_tracker\n"
            "b = waitbench.HostBarrier(sys.argv[1], 2)\nresource_tracker.unregister('/' + 'waitbench.' + sys.argv[1], "
            "'shared_memory')\nos._exit(0)\n")  # dies without removing it, tracker told to forget it
    subprocess.run([sys.executable, "-c", code, name], check=True, env=env, timeout=60)
    assert os.path.exists(f"/dev/shm/waitbench.{name}")
    with HostBarrier(name, 3, timeout_s=5) as b:
        assert b.parties == 3


def test_pickled_barriers_reopen_by_name_and_take_their_own_rank() -> None:
    with HostBarrier(None, 2, timeout_s=7.5, spin_us=10, rank=0) as b:
        c = pickle.loads(pickle.dumps(b))
        assert (c.name, c.parties, c.timeout_s, c.spin_us, c.owner) == (b.name, 2, 7.5, 10, False)
        assert b.rank == 0 and c.rank == 1  # taken when unpickled, not at the first wait
        t = threading.Thread(target=c.wait)
        t.start()
        assert b.wait() in (0, 1)
        t.join(timeout=10)
        c.close()


def test_one_handle_waiting_in_two_threads_is_refused() -> None:
    with HostBarrier(None, 3, timeout_s=2) as b:
        def wait_broken() -> None:  # the first wait, broken when the second is refused
            with pytest.raises(BarrierBroken):
                b.wait()

        t = threading.Thread(target=wait_broken)
        t.start()
        _until(lambda: b.n_waiting == 1)
        with pytest.raises(RuntimeError, match="one handle per thread"):
            b.wait()
        b.abort()
        t.join(timeout=10)


@pytest.mark.parametrize("kwargs,match", [
    ({"name": "a/b", "parties": 2}, "name='a/b' is invalid: expected 1 to 100 letters"),
    ({"name": "x", "parties": 0}, r"parties=0 is invalid: expected an int in \[1, 256\]"),
    ({"name": "x", "parties": 2, "timeout_s": 0}, r"timeout_s=0 is invalid: expected seconds in \[0.001"),
    ({"name": "x", "parties": 2, "spin_us": -1}, r"spin_us=-1 is invalid: expected an int in \[0, 1000000\]"),
    ({"name": "x", "parties": 2, "rank": 2}, r"rank=2 is invalid: expected an int in \[0, 1\]"),
])
def test_bad_arguments_name_the_argument_value_and_range(kwargs: dict, match: str) -> None:
    kwargs = {**kwargs, "name": kwargs["name"] + (f"-{os.getpid()}" if kwargs["name"] == "x" else "")}
    with pytest.raises(ValueError, match=match):
        HostBarrier(**kwargs)
    assert not os.path.exists(f"/dev/shm/waitbench.x-{os.getpid()}")


def test_bad_wait_timeout_and_missing_names() -> None:
    with HostBarrier(None, 2) as b, pytest.raises(ValueError, match=r"timeout=-1 is invalid"):
        b.wait(timeout=-1)
    with pytest.raises(FileNotFoundError):
        HostBarrier.open(f"never-created-{os.getpid()}")


def _until(cond, timeout_s: float = 10.0) -> None:
    limit = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < limit, "condition not reached in time"
        time.sleep(0.005)


def _join(procs: list) -> None:
    for p in procs:
        p.join(timeout=10)
        assert p.exitcode is not None


def test_unlink_then_close_and_a_taken_rank_leave_nothing_behind() -> None:
    b = HostBarrier(None, 2, rank=0)
    b.unlink()
    assert not os.path.exists(b.path)
    with pytest.raises(FileNotFoundError):  # the name is gone: nobody else can open it now
        HostBarrier.open(b.name)
    b.close()  # no second removal, no second resource-tracker message
    with HostBarrier(None, 2, rank=0) as c, pytest.raises(ValueError, match=r"rank=0 is invalid: pid \d+ holds it"):
        HostBarrier.open(c.name, rank=0)
    assert not os.path.exists(c.path)
    code = ("import waitbench\nb = waitbench.HostBarrier(None, 2)\nb.unlink()\nb.close()\n"
            "c = waitbench.HostBarrier(None, 2)\n")  # exits with c open: removed at exit
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": PKG_PATH})
    assert out.returncode == 0 and "resource_tracker" not in out.stderr and "Traceback" not in out.stderr, out.stderr
