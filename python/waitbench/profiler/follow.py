# SPDX-License-Identifier: Apache-2.0
"""Following the rings of a folder as they grow: each poll gives the collective instances that became whole.

Why a follower: ``diagnose`` (a window at a time) and the Prometheus collector (a scrape at a time) both ask
"what did the job's ranks finish since I last looked". Each ring is read from where the last poll stopped
(its cursor), a ring whose head has not moved costs one header read, and a record waits until every rank of
its communicator reported the same instance, so a wait is counted once, with every rank in it. Ranks on other
hosts (or records that never come) would keep an instance waiting for good: it is counted as it is once
``max_age`` polls old, or once more than ``pending_limit`` instances wait.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ResultsError
from . import layout
from .records import RingSnapshot
from .ring import read_ring

Pending = tuple[str, str, str, int]  # (job, comm_id, func, seq_number)


@dataclass
class Poll:
    """What one poll found, by job id: the records of the instances now whole, and the rings that gained any."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rings: dict[str, list[RingSnapshot]] = field(default_factory=dict)  # read this poll, their records removed


def _head(path: Path) -> int | None:
    """The ring's head (entries ever written), from its header alone; None if it is no ring (yet)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(layout.HEADER_BYTES)
    except OSError:
        return None
    if len(raw) < layout.HEADER_BYTES:
        return None
    h = np.frombuffer(raw, layout.HEADER, count=1)[0]
    return int(h["head"]) if int(h["magic"]) == layout.MAGIC else None


def list_rings(directory: str | os.PathLike[str]) -> list[Path]:
    """The ring files of ``directory`` (any job), from one listing; none when the folder is missing."""
    try:
        with os.scandir(directory) as it:
            return sorted(Path(e.path) for e in it if e.name.startswith(layout.FILE_PREFIX)
                          and e.name.endswith(layout.FILE_SUFFIX) and e.is_file())
    except OSError:
        return []


class RingFollower:
    """The rings in ``directory`` (of ``job`` when given), read incrementally; not thread-safe (callers lock)."""

    def __init__(self, directory: str | os.PathLike[str] = "/dev/shm", job: str | None = None, *,
                 pending_limit: int = 10_000, max_age: int | None = None) -> None:
        self.directory, self.job = Path(directory), job
        self.pending_limit, self.max_age = pending_limit, max_age
        self.polls = 0
        self._cursor: dict[str, int] = {}
        self._pending: OrderedDict[Pending, tuple[int, dict[int, dict[str, Any]]]] = OrderedDict()

    def _paths(self) -> list[Path]:
        prefix = layout.FILE_PREFIX + (f"{self.job}-" if self.job is not None else "")
        return [p for p in list_rings(self.directory) if p.name.startswith(prefix)]

    def skip_history(self) -> None:
        """Start every ring there now at its head: later polls see only what is written from now on."""
        for path in self._paths():
            head = _head(path)
            if head is not None:
                self._cursor[str(path)] = head

    def poll(self) -> Poll:
        """Read what every ring gained since the last poll; the instances now whole (or old) are returned."""
        self.polls += 1
        out = Poll()
        for path in self._paths():
            since = self._cursor.get(str(path), 0)
            head = _head(path)
            if head is None or head == since:
                continue  # being created, or nothing new: one header read
            try:
                ring = read_ring(path, since=since)
            except ResultsError:
                continue  # not a ring of this format, or gone: the next poll tries again
            if self.job is not None and ring.job != self.job:
                continue
            self._cursor[str(path)] = ring.next_ticket
            for r in ring.records:
                key = (ring.job, r["comm_id"], r["func"], r["seq_number"])
                self._pending.setdefault(key, (self.polls, {}))[1][r["rank"]] = r
            ring.records = []
            out.rings.setdefault(ring.job, []).append(ring)
        for key in list(self._pending):
            first, ranks = self._pending[key]
            whole = len(ranks) >= max(r["n_ranks"] for r in ranks.values())
            old = self.max_age is not None and self.polls - first >= self.max_age
            if whole or old or len(self._pending) > self.pending_limit:
                del self._pending[key]
                out.records.setdefault(key[0], []).extend(ranks.values())
        return out
