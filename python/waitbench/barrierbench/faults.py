# SPDX-License-Identifier: Apache-2.0
"""Fault injection: HostBarrier ranks killed (SIGKILL) or stopped (SIGSTOP) at random points.

Why: the barrier's promise is about faults (a dead rank fails every other rank within a second),
and a promise about timing is only shown by trying it many times at many moments. Episode after
episode this picks a rank count, makes a new barrier, forks the ranks (each opens it by name with
its rank, so it is a party from then on, and dies with this process) and lets them run checked
rounds (:func:`stress.check_round`: nobody passes round k before every rank arrived). Meanwhile it
injects one fault once a random rank reaches a random round (0: just after it opened the barrier,
before its first wait; ``rounds``: after its last wait, while it closes):

- ``kill``: SIGKILL. Every other rank must have finished all rounds, or raised BarrierBroken
  'rank-died' naming the victim's rank and pid within ``bound_s`` of the kill.
- ``stop``: SIGSTOP for up to ``stop_max_s``, then SIGCONT. A stopped process is alive, late and
  not dead (it may be a debugger's, or job control's): every rank must finish every round.
- ``none``: a clean episode.

At the end ``/dev/shm`` must hold nothing of the run.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import invalid
from .lifeline import children_start_without_sigint, die_with_parent
from .stress import MAX_ERRORS, check_round, delay

FAULTS = ("kill", "stop", "none")
EPISODE_S = 60.0  # an episode that takes longer has hung: its ranks are killed and it is an error


@dataclass
class FaultResult:
    """What a fault-injection run found; empty ``errors`` means every promise held."""

    episodes: int = 0
    rounds: int = 0  # rounds every rank completed, summed over the episodes
    ranks: list[int] = field(default_factory=list)  # rank count of each episode
    injected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAULTS, 0))
    detect_s: list[float] = field(default_factory=list)  # kill -> each other rank's BarrierBroken
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no round released early and every fault was noticed in time."""
        return not self.errors

    def summary(self) -> str:
        """One paragraph of figures: rounds, ranks, faults, detection max, median and p99."""
        d = sorted(self.detect_s)
        det = "no detections" if not d else (
            f"detection (kill -> BarrierBroken, {len(d)} ranks) median {1e3 * statistics.median(d):.0f} ms, "
            f"p99 {1e3 * d[min(len(d) - 1, int(0.99 * len(d)))]:.0f} ms, max {1e3 * d[-1]:.0f} ms")
        span = f"{min(self.ranks)}-{max(self.ranks)}" if self.ranks else "-"
        faults = ", ".join(f"{k} {v}" for k, v in self.injected.items())
        return (f"{self.episodes} episodes, {span} ranks, {self.rounds} rounds completed, faults: {faults}; {det}; "
                f"{self.seconds:.1f} s; {'OK' if self.ok else f'{len(self.errors)} errors'}")


def _rank(name: str, rank: int, rounds: int, seed: int, arrived: Any, opened: Any, out_fd: int, parent: int,
          timeout_s: float) -> None:
    """A forked rank: open with its rank, run checked rounds, report one JSON line, close, exit."""
    from ..barrier import HostBarrier
    from ..errors import BarrierBroken

    die_with_parent(parent)
    report: dict[str, Any] = {"rank": rank, "pid": os.getpid(), "done": 0, "errors": []}
    rng = random.Random(seed)
    b = HostBarrier.open(name, rank=rank, timeout_s=timeout_s, spin_us=rng.choice((0, 50)))
    opened[rank] = 1
    try:
        for k in range(1, rounds + 1):
            delay(rng)
            arrived[rank] = k
            b.wait()
            report["errors"] += check_round(rank, k, arrived[:])[:MAX_ERRORS]
            report["done"] = k
    except BarrierBroken as exc:
        report["broken"] = [time.monotonic_ns(), exc.reason, exc.dead_rank, exc.dead_pid, str(exc)]
    os.write(out_fd, (json.dumps(report) + "\n").encode())  # one write under PIPE_BUF: never torn
    b.close()


def _fork_rank(*args: Any) -> int:
    pid = os.fork()
    if pid == 0:  # the child: never returns into the parent's code, never runs its exit handlers
        code = 0
        try:
            _rank(*args)
        except BaseException:  # noqa: BLE001 - reported by its missing line; the exit code says it failed
            code = 1
        os._exit(code)
    return pid


def _inject(kind: str, pid: int, victim: int, at_round: int, arrived: Any, opened: Any, rng: random.Random,
            stop_max_s: float) -> int | None:
    """Wait until the victim reaches ``at_round``, then inject; the kill's monotonic ns (None: none)."""
    limit = time.monotonic() + EPISODE_S
    while not (opened[victim] and arrived[victim] >= at_round):
        if time.monotonic() > limit or os.waitpid(pid, os.WNOHANG) != (0, 0):
            return None  # it finished (or failed) first: nothing injected
        time.sleep(50e-6)
    if kind == "kill":
        t = time.monotonic_ns()
        os.kill(pid, signal.SIGKILL)
        return t
    if kind == "stop":
        os.kill(pid, signal.SIGSTOP)
        time.sleep(rng.uniform(0, stop_max_s))
        os.kill(pid, signal.SIGCONT)
    return None


def _collect(read_fd: int) -> dict[int, dict[str, Any]]:
    """The ranks' report lines, until every writer is gone or the episode's time is up."""
    buf, limit = b"", time.monotonic() + EPISODE_S
    while time.monotonic() < limit:
        ready, _, _ = select.select([read_fd], [], [], 0.1)
        if ready:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            buf += chunk
    reports = [json.loads(line) for line in buf.decode().splitlines() if line]
    return {r["rank"]: r for r in reports}


def run_faults(episodes: int, rounds: int, *, min_ranks: int = 2, max_ranks: int = 16, seed: int = 0,
               bound_s: float = 1.0, stop_max_s: float = 0.5, timeout_s: float = 30.0) -> FaultResult:
    """Run ``episodes`` episodes of ``rounds`` checked rounds, one injected fault each (see the module)."""
    from multiprocessing import get_context

    from ..barrier import HostBarrier

    if not isinstance(episodes, int) or not 1 <= episodes <= 100_000:
        raise invalid("episodes", episodes, "an int in [1, 100000]")
    if not isinstance(rounds, int) or not 1 <= rounds <= 1_000_000:
        raise invalid("rounds", rounds, "an int in [1, 1000000]")
    if not 2 <= min_ranks <= max_ranks <= 256:
        raise invalid("max_ranks", (min_ranks, max_ranks), "2 <= min_ranks <= max_ranks <= 256")
    if not 0 < stop_max_s < timeout_s:
        raise invalid("stop_max_s", stop_max_s, f"seconds in (0, timeout_s={timeout_s:g}): a stop must end in time")
    rng = random.Random(seed)
    ctx = get_context("fork")
    res = FaultResult()
    t0 = time.monotonic()
    for e in range(episodes):
        n, kind = rng.randint(min_ranks, max_ranks), rng.choice(FAULTS)
        victim, at_round = rng.randrange(n), rng.randint(0, rounds)
        arrived, opened = ctx.RawArray("q", n), ctx.RawArray("b", n)
        pids: list[int] = []
        read_fd, write_fd = os.pipe()
        with HostBarrier(None, n, timeout_s=timeout_s) as b:
            try:
                with children_start_without_sigint():  # a Ctrl-C now reaches this process, after the forks
                    for r in range(n):  # each pid kept as soon as it exists: a failed fork leaves none unknown
                        pid = _fork_rank(b.name, r, rounds, seed * 100_003 + e * 257 + r, arrived, opened, write_fd,
                                         os.getpid(), timeout_s)
                        pids.append(pid)
                os.close(write_fd)
                write_fd = -1
                t_kill = _inject(kind, pids[victim], victim, at_round, arrived, opened, rng, stop_max_s)
                reports = _collect(read_fd)
            except BaseException:  # Ctrl-C, SIGTERM: the ranks go now, the barrier is closed on the way out
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                raise
            finally:
                for fd in (read_fd, write_fd):
                    if fd >= 0:
                        os.close(fd)
                _reap(pids)
        res.episodes += 1
        res.ranks.append(n)
        injected = kind if kind == "stop" or t_kill is not None else "none"
        res.injected[injected] += 1
        _check(e, injected, victim, pids, reports, t_kill, rounds, bound_s, res)
        left = [f for f in os.listdir("/dev/shm") if f.startswith(f"waitbench.{b.name}")]
        if left:
            res.errors.append(f"episode {e}: left in /dev/shm: {left}")
        if len(res.errors) >= MAX_ERRORS:
            break
    res.seconds = time.monotonic() - t0
    return res


def _reap(pids: list[int]) -> None:
    """Every rank of the episode gone and waited for (a straggler is killed: it has hung)."""
    limit = time.monotonic() + 10.0
    for pid in pids:
        while True:
            try:
                if os.waitpid(pid, os.WNOHANG) != (0, 0):
                    break
            except ChildProcessError:  # reaped already (the injector saw it end)
                break
            if time.monotonic() > limit:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)


def _check(e: int, kind: str, victim: int, pids: list[int], reports: dict[int, dict[str, Any]], t_kill: int | None,
           rounds: int, bound_s: float, res: FaultResult) -> None:
    """Every promise of one episode, as errors in ``res`` (and its completed rounds and detections)."""
    survivors = [r for r in range(len(pids)) if not (kind == "kill" and r == victim)]
    missing = [r for r in survivors if r not in reports]
    if missing:
        res.errors.append(f"episode {e} ({kind}): rank(s) {missing} sent no report (hung or crashed)")
    done = [reports[r]["done"] for r in survivors if r in reports]
    res.rounds += min(done, default=0)
    for r in survivors:
        rep = reports.get(r)
        if rep is None:
            continue
        res.errors.extend(f"episode {e}: {msg}" for msg in rep["errors"])
        broken = rep.get("broken")
        if broken is None:
            if rep["done"] != rounds:
                res.errors.append(f"episode {e}: rank {r} stopped at round {rep['done']} without an error")
            continue
        t_end, reason, dead_rank, dead_pid, text = broken
        if kind != "kill" or (reason, dead_rank, dead_pid) != ("rank-died", victim, pids[victim]):
            res.errors.append(f"episode {e} ({kind}, victim rank {victim} pid {pids[victim]}): rank {r}: {text}")
            continue
        assert t_kill is not None
        res.detect_s.append((t_end - t_kill) / 1e9)
        if t_end - t_kill > bound_s * 1e9:
            res.errors.append(f"episode {e}: rank {r} noticed the kill of rank {victim} after "
                              f"{(t_end - t_kill) / 1e9:.3f} s (bound {bound_s:g} s)")
