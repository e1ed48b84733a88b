# SPDX-License-Identifier: Apache-2.0
"""Prometheus counters of live wait accounting: each scrape reads what the job's rings gained since the last.

Why a collector of its own: the exporter (waitbench.diagnose.exporter) serves GPU verdicts from NVML; the
waits come from the rings, read incrementally (each ring's cursor kept), and an instance is counted once
every rank of its communicator has reported it, or, for ranks on other hosts or records that never come,
once it is old (``pending_limit`` instances later). Register it with ``prometheus_client.REGISTRY.register``
beside the exporter's. Names are ``waitbench_nccl_*`` (seconds as counters, ``comm``/``rank`` labels);
docs/PROFILER.md has recording rules and an alert.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ResultsError
from .accounting import Key, account
from .ring import read_ring, ring_paths


class ProfilerCollector:
    """A prometheus-client custom collector over the rings in ``directory`` (of ``job`` when given)."""

    def __init__(self, directory: str = "/dev/shm", job: str | None = None, pending_limit: int = 10_000) -> None:
        self.directory, self.job, self.pending_limit = directory, job, pending_limit
        self._lock = threading.Lock()
        self._cursor: dict[str, int] = {}
        self._pending: OrderedDict[Key, dict[int, dict[str, Any]]] = OrderedDict()
        self.wait_s: dict[tuple[str, int, int], float] = defaultdict(float)  # (comm, waiter, late rank)
        self.kernel_s: dict[tuple[str, int], float] = defaultdict(float)
        self.collectives: dict[tuple[str, int], int] = defaultdict(int)
        self.late: dict[tuple[str, int], int] = defaultdict(int)
        self.ring_counts: dict[tuple[str, str], dict[str, int]] = {}  # (host, pid) -> lost, torn, dropped

    def refresh(self) -> None:
        """Read every ring's new entries and count the instances that are now whole."""
        with self._lock:
            for path in ring_paths(Path(self.directory), self.job):
                try:
                    ring = read_ring(path, since=self._cursor.get(str(path), 0))
                except ResultsError:
                    continue  # a ring being created, or a file that is not ours: next scrape
                self._cursor[str(path)] = ring.next_ticket
                counts = self.ring_counts.setdefault((ring.host, str(ring.pid)), {"lost": 0, "torn": 0})
                counts["lost"] += ring.lost
                counts["torn"] = ring.torn
                counts["dropped"] = ring.dropped_pool_full
                for r in ring.records:
                    self._pending.setdefault((r["comm_id"], r["func"], r["seq_number"]), {})[r["rank"]] = r
            for key in list(self._pending):
                ranks = self._pending[key]
                whole = len(ranks) >= next(iter(ranks.values()))["n_ranks"]
                if whole or len(self._pending) > self.pending_limit:
                    self._count(list(self._pending.pop(key).values()))

    def _count(self, records: list[dict[str, Any]]) -> None:
        acc = account(records)
        for (comm, rank), t in acc.ranks.items():
            self.kernel_s[(comm, rank)] += t.kernel_ns / 1e9
            self.collectives[(comm, rank)] += t.collectives
            self.late[(comm, rank)] += t.late_count
        for (comm, waiter, late, _), (wait, _) in acc.pairs.items():
            self.wait_s[(comm, waiter, late)] += wait / 1e9

    def collect(self) -> Iterator[Any]:
        """The metric families, after a refresh (prometheus-client calls this at every scrape)."""
        from prometheus_client.core import CounterMetricFamily

        self.refresh()
        with self._lock:
            wait = CounterMetricFamily("waitbench_nccl_wait_seconds", "Seconds a rank's collective kernels waited "
                                       "for the last rank to arrive, by the rank waited on (same-host ranks)",
                                       labels=["comm", "rank", "on_rank"])
            for (comm, rank, late), v in sorted(self.wait_s.items()):
                wait.add_metric([comm, str(rank), str(late)], v)
            yield wait
            for name, text, values in (
                    ("waitbench_nccl_kernel_seconds", "Seconds inside collective kernels (the rank's GPU clock)",
                     self.kernel_s),
                    ("waitbench_nccl_collectives", "Collectives recorded with kernel times", self.collectives),
                    ("waitbench_nccl_late", "Collectives this rank reached last among its host's ranks", self.late)):
                fam = CounterMetricFamily(name, text, labels=["comm", "rank"])
                for (comm, rank), v in sorted(values.items()):
                    fam.add_metric([comm, str(rank)], v)
                yield fam
            for key, text in (("lost", "Ring entries overwritten before they were read"),
                              ("torn", "Ring entries found half-written"),
                              ("dropped", "Collectives not recorded: too many in flight")):
                fam = CounterMetricFamily(f"waitbench_profiler_{key}_entries", text, labels=["host", "pid"])
                for (host, pid), c in sorted(self.ring_counts.items()):
                    fam.add_metric([host, pid], c.get(key, 0))
                yield fam
