# SPDX-License-Identifier: Apache-2.0
"""Which rank is late: across the GPUs of one host, the GPU that does not wait while others busy-wait.

Why it can be inferred at all: a collective's kernel spins on every rank that has reached it until
the last rank arrives (DESIGN.md, "How NCCL waits"). So when some GPUs of a job busy-wait and another
does not, the one that does not is the straggler: still computing (it reads ``busy``), or its
process has not enqueued anything yet (it reads ``idle`` with a compute process present, as
LMDeploy's rank 0 did while it waited for requests). A GPU without any compute process is probably
not part of the job and is named only when nothing better is left. Pure: it reads verdict rows
(live or replayed) and never touches a GPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .rows import VerdictRow


@dataclass(frozen=True)
class LateRank:
    """The finding: GPUs that wait, GPUs likely late (may be empty), GPUs that cannot be judged, and one line."""

    waiting: list[str]
    late: list[str]
    unjudged: list[str]
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The finding as a JSON-ready dict."""
        return {"waiting": self.waiting, "late": self.late, "unjudged": self.unjudged, "message": self.message}


def _gpus(labels: Sequence[str]) -> str:
    return ("GPU " if len(labels) == 1 else "GPUs ") + ",".join(labels)


def _why_not_waiting(row: VerdictRow) -> str:
    if row.verdict == "busy":
        return "busy: " + row.reason.removeprefix("real work: ")
    pids = ", ".join(str(p["pid"]) for p in row.processes)
    if pids:
        return f"idle with compute process pid {pids}: nothing enqueued, its host side is behind"
    return "idle, no compute process: probably not in this job"


def late_rank(rows: Sequence[VerdictRow]) -> LateRank | None:
    """The likely late GPU(s) among ``rows`` (one window per GPU of one host), or None.

    None when there is nothing to infer: no GPU waits, only one GPU is watched, or the rows are windows
    of one GPU at different times (a replayed scenario recording).
    """
    if len(rows) < 2 or len({r.uuid for r in rows}) < len(rows):
        return None
    waiting = [r for r in rows if r.verdict == "busy-waiting"]
    if not waiting:
        return None
    free = [r for r in rows if r.verdict in ("busy", "idle")]
    unjudged = [r for r in rows if r.verdict not in ("busy", "idle", "busy-waiting")]
    w = [r.gpu for r in waiting]
    u = [r.gpu for r in unjudged]
    wait = f"{_gpus(w)} {'waits' if len(w) == 1 else 'wait'}"
    tail = f"; {_gpus(u)} cannot be judged ({', '.join(r.verdict for r in unjudged)})" if unjudged else ""
    if not free:
        where = "another host, or a GPU not watched" + (f", or {_gpus(u)}" if u else "")
        return LateRank(w, [], u, f"{wait} and no watched GPU is free of waiting: the late rank is "
                                  f"elsewhere ({where}){tail}")
    in_job = [r for r in free if r.verdict == "busy" or r.processes]
    late = in_job or free
    names = [r.gpu for r in late]
    reasons = "; ".join((f"{r.gpu}: " if len(free) > 1 else "") + _why_not_waiting(r) for r in free)
    verb = "does" if len(free) == 1 else "do"
    likely = (f"{_gpus(names)} is likely the late rank" if len(names) == 1
              else f"one of {_gpus(names)} is likely the late rank")
    return LateRank(w, names, u, f"{wait}; {_gpus([r.gpu for r in free])} {verb} not ({reasons}): "
                                 f"{likely}{tail}")
