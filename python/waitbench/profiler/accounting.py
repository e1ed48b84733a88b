# SPDX-License-Identifier: Apache-2.0
"""Who waited on whom: profile records of many ranks matched into collective instances, and the waits counted.

Why two kinds of figure. A collective's kernel spins on every rank that reached it until the last rank
arrives (DESIGN.md, "How NCCL waits"), so on ranks whose GPU clocks agree (the GPUs of one host) a rank's
wait is the time from its own arrival (its earliest channel's start) to the last arrival, and the rank that
arrived last is the one the others waited on. Across hosts the clocks are not shared, so those figures are
only computed among the ranks of one host; what needs no shared clock is a rank's own time inside the
kernel: the rank the others wait on spends the least, and each rank's excess over that least is an estimate
of its wait (exact when every rank's transfer takes as long). docs/PROFILER.md says what each figure can and
cannot tell. Pure: it reads records, never a ring or a GPU.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Collectives whose every rank's result needs every rank's input: no rank can finish before the last arrives.
ALL_TO_ALL_FUNCS = frozenset({"AllReduce", "AllGather", "ReduceScatter", "AlltoAll"})

Key = tuple[str, str, int]  # (comm_id, func, seq_number)


@dataclass
class Instance:
    """One collective instance among the ranks of one host: arrivals, the late rank, each rank's wait."""

    comm_id: str
    func: str
    seq_number: int
    host: str
    n_ranks: int
    ranks: list[int]
    arrival_ns: list[int]  # GPU clock, per rank of `ranks`
    stop_ns: list[int]
    late_rank: int
    wait_ns: list[int]  # last arrival - own arrival
    transfer_ns: list[int]  # own stop - last arrival (negative: the clocks disagree)
    bytes: int | None
    enqueue_late_rank: int | None  # latest host enqueue (CLOCK_MONOTONIC, shared on a host); None if unknown

    @property
    def partial(self) -> bool:
        """Not every rank of the communicator is in this host's group (a job across hosts, or a lost record)."""
        return len(self.ranks) < self.n_ranks

    @property
    def span_ns(self) -> int:
        """First arrival to last stop."""
        return max(self.stop_ns) - min(self.arrival_ns)

    @property
    def clock_suspect(self) -> bool:
        """A rank finished before the last one arrived where the collective forbids it: GPU clocks disagree."""
        return self.func in ALL_TO_ALL_FUNCS and min(self.transfer_ns) < 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, units in the keys."""
        return {"comm_id": self.comm_id, "func": self.func, "seq_number": self.seq_number, "host": self.host,
                "n_ranks": self.n_ranks, "ranks": self.ranks, "late_rank": self.late_rank,
                "enqueue_late_rank": self.enqueue_late_rank, "span_s": self.span_ns / 1e9,
                "wait_s": [w / 1e9 for w in self.wait_ns], "transfer_s": [t / 1e9 for t in self.transfer_ns],
                "bytes": self.bytes, "partial": self.partial, "clock_suspect": self.clock_suspect}


@dataclass
class RankTotals:
    """One rank of one communicator, summed over its instances."""

    comm_id: str
    rank: int
    collectives: int = 0
    kernel_ns: int = 0  # own GPU clock, every collective with kernel times
    wait_ns: int = 0  # shared clock (same host), instances where the rank had host peers
    shared_kernel_ns: int = 0  # kernel time of those same instances (the denominator of wait_share)
    late_count: int = 0  # instances where it arrived last among its host's ranks
    least_kernel_count: int = 0  # clock-free: instances where its kernel time was the least of all ranks
    kernel_excess_ns: int = 0  # clock-free: sum of (own kernel time - least kernel time of the instance)
    func: str | None = None  # the collective, for the totals of one (None: every collective of the rank)

    @property
    def wait_share(self) -> float | None:
        """Share of its kernel time (in instances with host peers) spent waiting for the last arrival."""
        return self.wait_ns / self.shared_kernel_ns if self.shared_kernel_ns > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, units in the keys."""
        return {"comm_id": self.comm_id, "rank": self.rank, "collectives": self.collectives,
                "kernel_s": self.kernel_ns / 1e9, "wait_s": self.wait_ns / 1e9, "wait_share": self.wait_share,
                "late_count": self.late_count, "least_kernel_count": self.least_kernel_count,
                "kernel_excess_s": self.kernel_excess_ns / 1e9, **({"func": self.func} if self.func else {})}


TOTAL_FIELDS = ("collectives", "kernel_ns", "wait_ns", "shared_kernel_ns", "late_count", "least_kernel_count",
                "kernel_excess_ns")


@dataclass
class Accounting:
    """Everything the records say about waits: instances, per-rank totals, wait matrices and pair totals."""

    instances: list[Instance]
    ranks: dict[tuple[str, int], RankTotals]
    # comm_id -> n_ranks x n_ranks array: seconds rank i spent waiting on rank j (shared clock only).
    matrices: dict[str, np.ndarray]
    # (comm_id, waiter, late rank, func) -> [wait ns, instances]
    pairs: dict[tuple[str, int, int, str], list[int]]
    # (comm_id, rank, func) -> the rank's totals of that collective alone
    by_func: dict[tuple[str, int, str], RankTotals]
    n_ranks: dict[str, int] = field(default_factory=dict)
    records: int = 0
    without_kernel: int = 0  # records with no GPU times (no KernelCh, incomplete)
    duplicates: int = 0
    clock_suspect: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def func_kernel(self) -> dict[tuple[str, int, str], int]:
        """(comm_id, rank, func) -> the rank's kernel ns in the instances of ``func`` it shared with host peers."""
        return {k: t.shared_kernel_ns for k, t in self.by_func.items()}

    def totals(self) -> dict[str, Any]:
        """The sums without the instances, JSON-ready and small (ranks x collectives, not one entry per call).

        What a recording keeps of a window, read back by :meth:`from_totals`.
        """
        return {"records": self.records, "without_kernel": self.without_kernel, "duplicates": self.duplicates,
                "clock_suspect": self.clock_suspect, "n_ranks": dict(self.n_ranks),
                "by_func": [[c, r, f, *(getattr(t, k) for k in TOTAL_FIELDS)]
                            for (c, r, f), t in sorted(self.by_func.items())],
                "pairs": [[c, w, late, f, wait, n] for (c, w, late, f), (wait, n) in sorted(self.pairs.items())]}

    @classmethod
    def from_totals(cls, d: dict[str, Any]) -> Accounting:
        """The accounting of :meth:`totals` (its instances are not kept); ValueError for a malformed one."""
        try:
            acc = cls(instances=[], ranks={}, matrices={}, pairs={}, by_func={},
                      n_ranks={str(c): int(n) for c, n in d["n_ranks"].items()},
                      **{k: int(d[k]) for k in ("records", "without_kernel", "duplicates", "clock_suspect")})
            for c, r, f, *values in d["by_func"]:
                fields = dict(zip(TOTAL_FIELDS, map(int, values), strict=True))
                acc.by_func[(str(c), int(r), str(f))] = RankTotals(str(c), int(r), func=str(f), **fields)
                total = acc.ranks.setdefault((str(c), int(r)), RankTotals(str(c), int(r)))
                for k, v in fields.items():
                    setattr(total, k, getattr(total, k) + v)
            for c, w, late, f, wait, n in d["pairs"]:
                acc.pairs[(str(c), int(w), int(late), str(f))] = [int(wait), int(n)]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"malformed wait totals ({exc!r:.80})") from None
        _fill_matrices(acc)
        acc.notes = _notes(acc)
        return acc

    def slowest(self, n: int = 10) -> list[Instance]:
        """The ``n`` instances with the longest span (first arrival to last stop) among host peers."""
        return sorted((i for i in self.instances if len(i.ranks) > 1), key=lambda i: -i.span_ns)[:n]


def _dedupe(records: Iterable[dict[str, Any]], acc: Accounting) -> dict[Key, dict[int, dict[str, Any]]]:
    by_key: dict[Key, dict[int, dict[str, Any]]] = defaultdict(dict)
    for r in records:
        acc.records += 1
        if r["gpu_start_ns"] is None or r["gpu_stop_ns"] is None:
            acc.without_kernel += 1
            continue
        ranks = by_key[(r["comm_id"], r["func"], r["seq_number"])]
        if r["rank"] in ranks:
            acc.duplicates += 1
            continue
        ranks[r["rank"]] = r
    return by_key


def _host_instance(key: Key, group: Sequence[dict[str, Any]]) -> Instance:
    group = sorted(group, key=lambda r: r["rank"])
    arrival = [r["gpu_start_ns"] for r in group]
    stop = [r["gpu_stop_ns"] for r in group]
    last = max(arrival)
    late = group[arrival.index(last)]["rank"]  # ties: the lowest rank among the last
    enq = [r["enqueue_ns"] for r in group]
    enqueue_late = group[enq.index(max(enq))]["rank"] if None not in enq else None
    return Instance(comm_id=key[0], func=key[1], seq_number=key[2], host=group[0]["host"],
                    n_ranks=group[0]["n_ranks"], ranks=[r["rank"] for r in group], arrival_ns=arrival, stop_ns=stop,
                    late_rank=late, wait_ns=[last - a for a in arrival], transfer_ns=[s - last for s in stop],
                    bytes=group[0]["bytes"], enqueue_late_rank=enqueue_late)


def account(records: Iterable[dict[str, Any]]) -> Accounting:
    """Match ``records`` (of any rings, hosts and communicators) into instances and count every wait."""
    acc = Accounting(instances=[], ranks={}, matrices={}, pairs=defaultdict(lambda: [0, 0]), by_func={})
    n_ranks = acc.n_ranks

    def totals(comm: str, rank: int, func: str) -> tuple[RankTotals, RankTotals]:
        return (acc.ranks.setdefault((comm, rank), RankTotals(comm, rank)),
                acc.by_func.setdefault((comm, rank, func), RankTotals(comm, rank, func=func)))

    for key, by_rank in _dedupe(records, acc).items():
        comm, func = key[0], key[1]
        rows = list(by_rank.values())
        n_ranks[comm] = max(n_ranks.get(comm, 0), *(r["n_ranks"] for r in rows), *(r["rank"] + 1 for r in rows))
        kernel = {r["rank"]: r["gpu_stop_ns"] - r["gpu_start_ns"] for r in rows}
        least = min(kernel.values())
        for rank, k in kernel.items():  # clock-free: each rank against its own clock
            for t in totals(comm, rank, func):
                t.collectives += 1
                t.kernel_ns += k
                t.kernel_excess_ns += k - least
        if len(kernel) > 1:
            for t in totals(comm, min(kernel, key=lambda r: (kernel[r], r)), func):
                t.least_kernel_count += 1
        by_host: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            by_host[r["host"]].append(r)
        for group in by_host.values():
            if len(group) < 2:
                continue  # no peer with this rank's clock: nothing to compare
            inst = _host_instance(key, group)
            acc.instances.append(inst)
            acc.clock_suspect += inst.clock_suspect
            for t in totals(comm, inst.late_rank, func):
                t.late_count += 1
            for rank, w, a, s in zip(inst.ranks, inst.wait_ns, inst.arrival_ns, inst.stop_ns, strict=True):
                for t in totals(comm, rank, func):
                    t.wait_ns += w
                    t.shared_kernel_ns += s - a
                if rank != inst.late_rank:
                    pair = acc.pairs[(comm, rank, inst.late_rank, func)]
                    pair[0] += w
                    pair[1] += 1
    acc.pairs = dict(acc.pairs)
    _fill_matrices(acc)
    acc.instances.sort(key=lambda i: (i.comm_id, min(i.arrival_ns)))
    acc.notes = _notes(acc)
    return acc


def _fill_matrices(acc: Accounting) -> None:
    for (comm, waiter, late, _), (wait, _) in acc.pairs.items():
        n = max(acc.n_ranks.get(comm, 0), waiter + 1, late + 1)
        m = acc.matrices.setdefault(comm, np.zeros((n, n)))
        m[waiter, late] += wait / 1e9


def _notes(acc: Accounting) -> list[str]:
    notes = []
    if acc.without_kernel:
        notes.append(f"{acc.without_kernel} of {acc.records} records have no kernel times (event mask without "
                     "KernelCh, or written before their channels stopped): left out")
    if acc.clock_suspect:
        notes.append(f"{acc.clock_suspect} instances have a rank that finished before the last arrival: "
                     "the GPUs' clocks disagree there, so their waits are not exact")
    if acc.duplicates:
        notes.append(f"{acc.duplicates} duplicate records (same communicator, collective, sequence number and "
                     "rank) ignored")
    return notes
