# SPDX-License-Identifier: Apache-2.0
"""Prometheus counters of live wait accounting: who waited on whom, summed as the job's rings grow.

Why counters kept apart from the reading: ``diagnose --serve`` feeds them one window at a time (live, from
the rings, or replayed from a recording), and :class:`ProfilerCollector` feeds them at each scrape from a
:class:`~waitbench.profiler.follow.RingFollower`; both publish the same families. Names are
``waitbench_nccl_*`` (seconds as counters), labelled with dcgm-exporter's ``Hostname`` (so a query joins
them with the GPU series ``on (Hostname)``), ``profiler_job`` (the job id of the rings; not ``job``, which
Prometheus sets to the scrape job), ``comm``, ``rank``, ``on_rank`` (the rank waited on) and ``collective``.
docs/PROFILER.md has the recording rules and the alerts.
"""

from __future__ import annotations

import socket
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from .accounting import Accounting, account
from .follow import RingFollower
from .records import RingSnapshot

RANK_LABELS = ("Hostname", "profiler_job", "comm", "rank", "collective")
WAIT_LABELS = ("Hostname", "profiler_job", "comm", "rank", "on_rank", "collective")
RING_LABELS = ("Hostname", "profiler_job", "pid")
RING_COUNTERS = (("lost", "Ring entries overwritten before they were read (raise WAITBENCH_PROFILER_ENTRIES)"),
                 ("torn", "Ring entries found half-written or failing their checksum"),
                 ("dropped", "Collectives not recorded: too many in flight on one communicator"))


class WaitCounters:
    """Counters of waits, kernel time, collectives and late arrivals, per rank and collective (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.wait_s: dict[tuple[str, str, int, int, str], float] = defaultdict(float)  # job, comm, waiter, late, func
        self.kernel_s: dict[tuple[str, str, int, str], float] = defaultdict(float)  # job, comm, rank, func
        self.collectives: dict[tuple[str, str, int, str], int] = defaultdict(int)
        self.late: dict[tuple[str, str, int, str], int] = defaultdict(int)
        self.rings: dict[tuple[str, str], dict[str, int]] = {}  # (job, pid) -> lost, torn, dropped

    def add(self, job: str, acc: Accounting, rings: Iterable[RingSnapshot | dict[str, Any]] = ()) -> None:
        """Add one batch: ``acc`` of whole instances, and the rings read for it (their loss counters)."""
        with self._lock:
            for (comm, rank, func), t in acc.by_func.items():
                self.kernel_s[(job, comm, rank, func)] += t.kernel_ns / 1e9
                self.collectives[(job, comm, rank, func)] += t.collectives
                self.late[(job, comm, rank, func)] += t.late_count
            for (comm, waiter, late, func), (wait, _) in acc.pairs.items():
                self.wait_s[(job, comm, waiter, late, func)] += wait / 1e9
            for ring in rings:
                info = ring.info() if isinstance(ring, RingSnapshot) else ring
                counts = self.rings.setdefault((job, str(info["pid"])), {"lost": 0, "torn": 0, "dropped": 0})
                counts["lost"] += int(info["lost"])  # each read counts what it found lost since the last
                counts["torn"] += int(info["torn"])
                counts["dropped"] = max(counts["dropped"], int(info["dropped_pool_full"]))  # the ring's own total

    def families(self, hostname: str) -> list[Any]:
        """The metric families, every sample labelled ``Hostname=hostname``; empty before any batch."""
        from prometheus_client.core import CounterMetricFamily

        out = []
        with self._lock:
            if not self.rings and not self.kernel_s:
                return out
            wait = CounterMetricFamily("waitbench_nccl_wait_seconds", "Seconds a rank's collective kernels waited "
                                       "for the last rank to arrive (same-host ranks, their GPU clocks), by the rank "
                                       "waited on (NCCL profiler plugin; no NVML or DCGM field)", labels=WAIT_LABELS)
            for (job, comm, rank, late, func), v in sorted(self.wait_s.items()):
                wait.add_metric([hostname, job, comm, str(rank), str(late), func], v)
            out.append(wait)
            for name, text, values in (
                    ("waitbench_nccl_kernel_seconds", ("Seconds inside collective kernels, first channel start to last "
                                                       "channel end (the rank's own GPU clock)"), self.kernel_s),
                    ("waitbench_nccl_collectives", "Collectives recorded with kernel times", self.collectives),
                    ("waitbench_nccl_late", "Collectives this rank reached last among its host's ranks", self.late)):
                fam = CounterMetricFamily(name, text, labels=RANK_LABELS)
                for (job, comm, rank, func), v in sorted(values.items()):
                    fam.add_metric([hostname, job, comm, str(rank), func], v)
                out.append(fam)
            for key, text in RING_COUNTERS:
                fam = CounterMetricFamily(f"waitbench_profiler_{key}_entries", text, labels=RING_LABELS)
                for (job, pid), c in sorted(self.rings.items()):
                    fam.add_metric([hostname, job, pid], c[key])
                out.append(fam)
        return out


class ProfilerCollector:
    """A prometheus-client custom collector over the rings in ``directory`` (of ``job`` when given).

    Each scrape polls the rings (:class:`RingFollower`) and counts what became whole; ``Hostname`` is this
    host's name (the rings of a folder are this host's processes). ``diagnose --serve`` needs none of this: it
    publishes the same counters from its windows.
    """

    def __init__(self, directory: str = "/dev/shm", job: str | None = None, pending_limit: int = 10_000,
                 hostname: str | None = None) -> None:
        self.follower = RingFollower(directory, job, pending_limit=pending_limit)
        self.counters = WaitCounters()
        self.hostname = hostname or socket.gethostname()
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read every ring's new entries and count the instances that are now whole."""
        with self._lock:
            found = self.follower.poll()
            for job in found.rings.keys() | found.records.keys():
                self.counters.add(job, account(found.records.get(job, [])), found.rings.get(job, []))

    def collect(self) -> Iterator[Any]:
        """The metric families, after a refresh (prometheus-client calls this at every scrape)."""
        self.refresh()
        yield from self.counters.families(self.hostname)
