# SPDX-License-Identifier: Apache-2.0
"""How wait accounting reads to people: sentences, the notes a replay needs, and tables in the report's TableData.

A sentence reads "rank 1 waited 2.31 s on rank 0 in Broadcast, 97% of its kernel time"; the notes say what was
lost, torn, or left by a rank that died.

Why sentences first: the question users ask is "which rank is late, and what does it cost the others"; a
matrix answers it only after reading. The tables carry the same numbers, raw values with units in their keys,
so CSV and JSON say what the terminal says.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..report.render import NA, Column, TableData
from .accounting import Accounting
from .records import RingSnapshot


def seconds(ns: float) -> str:
    """A duration in the unit that keeps three significant digits: 2.31 s, 310 ms, 12.0 µs, 85 ns."""
    for scale, unit in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if abs(ns) >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.0f} ns"


def _comm_label(acc: Accounting, comm: str) -> str:
    return "" if len({k[0] for k in acc.ranks}) <= 1 else f" (comm {comm})"


def wait_sentences(acc: Accounting, top: int = 10) -> list[str]:
    """Who waited on whom, the largest first: one sentence per (waiter, late rank, collective)."""
    rows = sorted(acc.pairs.items(), key=lambda kv: -kv[1][0])[:top]
    out = []
    for (comm, waiter, late, func), (wait, n) in rows:
        kernel = acc.func_kernel.get((comm, waiter, func), 0)
        share = f", {wait / kernel:.0%} of its kernel time" if kernel > 0 else ""
        out.append(f"rank {waiter} waited {seconds(wait)} on rank {late} in {func}{share} "
                   f"({n} collective{'s' if n != 1 else ''}){_comm_label(acc, comm)}")
    return out


def clock_free_sentences(acc: Accounting) -> list[str]:
    """Per communicator, the rank whose own kernel time was most often the least: the one the others wait on."""
    out = []
    for comm in sorted({k[0] for k in acc.ranks}):
        ranks = [t for (c, _), t in acc.ranks.items() if c == comm]
        total = sum(t.least_kernel_count for t in ranks)
        if total == 0:
            continue
        best = max(ranks, key=lambda t: (t.least_kernel_count, -t.rank))
        excess = ", ".join(f"rank {t.rank} {seconds(t.kernel_excess_ns)}" for t in sorted(ranks, key=lambda t: t.rank))
        out.append(f"rank {best.rank} spent the least kernel time in {best.least_kernel_count / total:.0%} of "
                   f"{total} collectives: the others likely waited on it (kernel time above the least: {excess})"
                   f"{_comm_label(acc, comm)}")
    return out


def ring_notes(rings: Sequence[RingSnapshot]) -> list[str]:
    """What a reader of the figures must know about the rings they come from."""
    out = []
    for r in rings:
        who = f"{r.host} pid {r.pid}"
        if r.died:
            out.append(f"{who}: the process is gone with {r.comms_live} communicator(s) live (it died); its "
                       f"ring was read as it was left")
        for count, what in ((r.lost, "overwritten before they were read (raise WAITBENCH_PROFILER_ENTRIES)"),
                            (r.torn, "torn (half-written) and skipped"),
                            (r.dropped_pool_full, "collectives not recorded: too many in flight"),
                            (r.incomplete, "written at finalize before their channels stopped")):
            if count:
                out.append(f"{who}: {count} entries {what}")
        if r.truncated:
            out.append(f"{who}: the ring file is shorter than its header says (a partial copy): read as far as it goes")
    return out


def _pct(x: float | None) -> str:
    return NA if x is None else f"{x:.0%}"


def rank_table(acc: Accounting) -> TableData:
    """One row per rank of each communicator: kernel time, wait, its share, how often late or least."""
    cols = [Column("comm", "communicator", "left"), Column("rank", "rank"), Column("colls", "collectives"),
            Column("kernel", "kernel time (own clock)"), Column("wait", "wait for the last arrival (host peers)"),
            Column("wait %", "share of kernel time waiting"), Column("late", "times arrived last"),
            Column("least", "times least kernel time (clock-free)"), Column("excess", "kernel time above the least")]
    rows = sorted(acc.ranks.values(), key=lambda t: (t.comm_id, t.rank))
    cells = [[t.comm_id, str(t.rank), str(t.collectives), seconds(t.kernel_ns), seconds(t.wait_ns),
              _pct(t.wait_share), str(t.late_count), str(t.least_kernel_count), seconds(t.kernel_excess_ns)]
             for t in rows]
    return TableData("profiler-ranks", "Wait per rank", "from NCCL's kernel-channel timestamps", cols, cells,
                     [t.to_dict() for t in rows], notes=list(acc.notes))


def slowest_table(acc: Accounting, top: int = 10) -> TableData:
    """The collective instances with the longest span, each with its late rank and the largest wait."""
    cols = [Column("comm", "communicator", "left"), Column("coll", "collective", "left"), Column("seq", "sequence"),
            Column("host", "host", "left"), Column("ranks", "ranks seen"), Column("span", "first arrival to last end"),
            Column("late", "late rank"), Column("max wait", "largest wait"), Column("bytes", "bytes")]
    rows = acc.slowest(top)
    cells = [[i.comm_id, i.func, str(i.seq_number), i.host, f"{len(i.ranks)}/{i.n_ranks}", seconds(i.span_ns),
              str(i.late_rank), seconds(max(i.wait_ns)), NA if i.bytes is None else f"{i.bytes:,}"] for i in rows]
    return TableData("profiler-slowest", "Slowest collectives", "among ranks of one host (shared GPU clock)", cols,
                     cells, [i.to_dict() for i in rows])


def matrix_table(acc: Accounting, comm: str) -> TableData:
    """Seconds rank i (row) spent waiting on rank j (column) in one communicator."""
    m = acc.matrices[comm]
    n = m.shape[0]
    cols = [Column("waiter", "waiting rank", "left"), *(Column(f"on {j}", f"waiting on rank {j} (s)")
                                                        for j in range(n))]
    cells = [[str(i)] + [seconds(m[i, j] * 1e9) if m[i, j] else "·" for j in range(n)] for i in range(n)]
    raw = [{"comm_id": comm, "waiter": i, **{f"on_rank_{j}_s": float(m[i, j]) for j in range(n)}} for i in range(n)]
    return TableData("profiler-matrix", f"Wait matrix of {comm}", "seconds rank i spent waiting on rank j", cols,
                     cells, raw)


def tables(acc: Accounting, top: int = 10) -> list[TableData]:
    """Every table of a profiler report."""
    return [rank_table(acc), slowest_table(acc, top), *(matrix_table(acc, c) for c in sorted(acc.matrices))]
