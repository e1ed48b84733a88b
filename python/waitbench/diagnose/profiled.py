# SPDX-License-Identifier: Apache-2.0
"""NCCL waits in diagnose: the profiler rings of jobs on this host, read each window, who waited on whom.

Why here and not in the verdict: the verdict says a GPU waits; the rings of waitbench's NCCL profiler plugin
(docs/PROFILER.md) say on which rank, in which collective, for how long. When a job on the host runs with the
plugin, every window reads what its rings gained (:class:`~waitbench.profiler.follow.RingFollower`; rings that
were there before diagnose started are read from their head on, so a window shows the collectives that ended
in it), and each job's sums become a :class:`JobWaits`: lines under the table (the profiler's own sentences),
a field of ``--json``, a ``profile`` line of ``--record`` that ``--replay`` reads back, and counters of
``--serve``. With no ring in the folder this costs one directory listing a window and shows nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..inert import inert
from ..profiler.accounting import Accounting, account
from ..profiler.follow import RingFollower
from ..profiler.library import DEFAULT_DIR
from ..profiler.records import RING_KEYS, RingSnapshot
from ..profiler.render import clock_free_sentences, ring_notes, wait_sentences

TOP = 5  # wait sentences shown per job and window (--json has every pair)
RING_COUNTS = ("host", "pid", "lost", "torn", "dropped_pool_full", "incomplete", "truncated", "comms_live", "alive")


@dataclass
class JobWaits:
    """One job's waits over one window: the accounting of the instances that ended in it, and its rings' counts."""

    job: str
    accounting: Accounting
    rings: list[dict[str, Any]] = field(default_factory=list)  # RING_COUNTS of each ring that gained entries

    def sentences(self, top: int = TOP) -> list[str]:
        """Who waited on whom (the profiler's sentences); the clock-free guess where no ranks share a clock."""
        return wait_sentences(self.accounting, top) or clock_free_sentences(self.accounting)

    def notes(self) -> list[str]:
        """What the figures cannot include: entries lost or torn, a rank that died, records without GPU times."""
        snapshots = [RingSnapshot(**{k: r.get(k) for k in RING_KEYS if k in RING_COUNTS},
                                  **{k: None for k in RING_KEYS if k not in RING_COUNTS}) for r in self.rings]
        return ring_notes(snapshots) + self.accounting.notes

    def lines(self) -> list[str]:
        """The lines diagnose prints under the table, inert (the job id and notes come from other processes)."""
        acc = self.accounting
        head = (f"NCCL waits of job {self.job} in this window (profiler rings: {acc.records} records of "
                f"{len(acc.ranks)} ranks)")
        body = self.sentences() or ["no collective seen by two ranks of this host: nothing to compare"]
        return [inert(head + ":"), *(inert(f"  {s}") for s in body), *(inert(f"  note: {s}") for s in self.notes())]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the job, the sentences and notes, each rank's and pair's sums, the rings' counts."""
        acc = self.accounting
        return {"job": self.job, "sentences": self.sentences(top=len(acc.pairs) or TOP), "notes": self.notes(),
                "ranks": [t.to_dict() for _, t in sorted(acc.by_func.items())],
                "pairs": [{"comm_id": c, "rank": w, "on_rank": late, "func": f, "wait_s": wait / 1e9, "collectives": n}
                          for (c, w, late, f), (wait, n) in sorted(acc.pairs.items(), key=lambda kv: -kv[1][0])],
                "rings": self.rings}

    def to_line(self) -> dict[str, Any]:
        """What ``--record`` keeps (the sums, not the instances): read back by :meth:`from_line`."""
        return {"job": self.job, "totals": self.accounting.totals(), "rings": self.rings}

    @classmethod
    def from_line(cls, line: dict[str, Any]) -> JobWaits:
        """A recording's ``profile`` line; ValueError for a malformed one (the replay skips it and says so)."""
        job, rings = line.get("job"), line.get("rings")
        if not isinstance(job, str) or not isinstance(rings, list) or not all(
                isinstance(r, dict) and isinstance(r.get("pid"), int) for r in rings):
            raise ValueError("a profile line needs a job id and a list of rings with pids")
        totals = line.get("totals")
        if not isinstance(totals, dict):
            raise ValueError("a profile line has no totals")
        return cls(inert(job), Accounting.from_totals(totals), [_counts(r) for r in rings])


def _counts(ring: RingSnapshot | dict[str, Any]) -> dict[str, Any]:
    """A ring's counts in the types ring_notes reads, whether from a ring or from a recording's line."""
    r = ring.info() if isinstance(ring, RingSnapshot) else ring
    alive = r.get("alive")
    out: dict[str, Any] = {"host": inert(str(r.get("host", ""))), "pid": int(r["pid"]),
                           "truncated": r.get("truncated") is True, "alive": alive if isinstance(alive, bool) else None}
    for k in ("lost", "torn", "dropped_pool_full", "incomplete", "comms_live"):
        v = r.get(k, 0)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f"a ring's {k}={v!r:.30} is not a count")
        out[k] = v
    return out


class ProfiledJobs:
    """The profiler rings of ``directory``, followed window by window (live diagnose)."""

    def __init__(self, directory: str | os.PathLike[str] = DEFAULT_DIR) -> None:
        # An instance not whole one window after its first record (a rank on another host, a lost record) is
        # counted with the ranks that reported it.
        self.follower = RingFollower(directory, max_age=1)

    def start(self) -> None:
        """At the first window's start: what the rings hold already is not this session's."""
        self.follower.skip_history()

    def window(self) -> list[JobWaits]:
        """The jobs whose rings gained entries since the last call, each with its waits (none: no ring)."""
        found = self.follower.poll()
        jobs = sorted(found.rings.keys() | found.records.keys())
        waits = [JobWaits(job, account(found.records.get(job, [])), [_counts(r) for r in found.rings.get(job, [])])
                 for job in jobs]
        return [w for w in waits if w.accounting.records or w.notes()]  # records still pending: next window
