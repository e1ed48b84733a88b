# SPDX-License-Identifier: Apache-2.0
"""Tables of real-collective runs (``waitbench nccl``): episodes, side calls, emulation beside reality.

Each function takes records and returns ``(rich Table or None, notes)``; None when the records hold
nothing of that kind. Pure: they read records only, so they render files on any machine. Beside the
rest of waitbench nccl (not in report/) because they read its emulation plan: report/ reads
records and imports no tool.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from ..inert import inert
from .emulate import DIFF_FLAG, compare_rows


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def size_label(n: int | None) -> str:
    """A message size as people write it: '4 B', '256 MiB' ('-' where unknown)."""
    if n is None:
        return "-"
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}"
    return f"{n} B"


def _table(title: str, columns: Sequence[str], left: int) -> Table:
    t = Table(title=Text(inert(title)), box=box.SIMPLE_HEAD, padding=(0, 1))
    for i, col in enumerate(columns):
        t.add_column(col, no_wrap=True, justify="left" if i < left else "right")
    return t


def _add_row(t: Table, *cells: str) -> None:
    """A row of text from records (mode, collective, status, a workload's name): inert, no markup."""
    t.add_row(*(Text(inert(c)) for c in cells))


def episode_table(records: Sequence[dict[str, Any]]) -> tuple[Table | None, list[str]]:
    """One row per mode, cell and rank: what the GPU reported and did, what work kept, the wake-up."""
    recs = [r for r in records if r.get("record_kind") == "nccl" and not r.get("side_call")]
    if not recs:
        return None, []
    first = recs[0]
    t = _table(f"waitbench nccl: rank {first['late_rank']} arrives {first['late_s']:g} s late (wake: late rank's "
               "call -> completion seen, us; aligned: both arrive together)",
               ("mode", "cell", "rank", "status", "NVML%", "SM%", "FMA x", "GEMM x", "wake", "aligned", "W+",
                "CPU%", "verdict"), 4)
    notes: list[str] = []
    seen: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in recs:
        seen.setdefault((r["strategy"], r.get("protocol"), r["collective"], r.get("message_bytes"), r["rank"]),
                        []).append(r)
    for (mode, proto, coll, size, rank), group in seen.items():
        r = group[0]
        for g in group:
            if g["status"] == "skipped":
                if g["rank"] == 0 and g is r:
                    notes.append(f"{mode}: skipped: {g['status_detail']}")
            elif g["status_detail"]:
                notes.append(f"{mode} {proto or 'auto'} {coll} {size_label(size)} rank {rank}"
                             f"{' ' + g['workload'] if g['workload'] else ''}: {g['status']}: {g['status_detail']}")
        if r["status"] == "skipped":
            continue
        ratio = {g["workload"]: g["tput_ratio"] for g in group if g["workload"]}
        status = next((g["status"] for g in group if g["status"] != "ok"), "ok")
        rank_label = f"{rank}L" if r["role"] == "late" else str(rank)
        _add_row(t, mode, f"{proto or 'auto'} {coll} {size_label(size)}", rank_label,
                  status, _fmt(r["nvml_util_pct"], ".0f"), _fmt(r["gpm_sm_util_pct"], ".1f"),
                  _fmt(ratio.get("fma"), ".2f"), _fmt(ratio.get("gemm"), ".2f"), _fmt(r["wake_rtt_p50_us"], ".0f"),
                  _fmt(r["wake_floor_rtt_p50_us"], ".0f"), _fmt(r["power_delta_w"], "+.0f"),
                  _fmt(r["host_cpu_pct"], ".0f"), r["verdict"] or "-")
    return t, [inert(n) for n in dict.fromkeys(notes)]


def calls_table(records: Sequence[dict[str, Any]]) -> tuple[Table | None, list[str]]:
    """Which common calls return during a wait and which wait for the late rank."""
    recs = [r for r in records if r.get("record_kind") == "nccl" and r.get("side_call")]
    if not recs:
        return None, []
    t = _table(f"calls made {recs[0]['late_s']:g} s waits into a collective whose peer is late",
               ("call", "rank", "status", "took ms", "returned", "after arrival ms"), 3)
    for r in recs:
        after = r["side_call_after_late_ms"]
        when = "-" if after is None else ("after the late rank" if after > 0 else "during the wait")
        _add_row(t, r["side_call"], str(r["rank"]), r["status"], _fmt(r["side_call_ms"], ".2f"), when,
                  _fmt(after, "+.2f"))
    return t, []


def emulation_table(records: Sequence[dict[str, Any]]) -> tuple[Table | None, list[str]]:
    """Reality beside its emulated stand-in, per real cell; gaps over DIFF_FLAG named in the notes."""
    rows = compare_rows(records)
    if not rows:
        return None, []
    t = _table("emulation beside reality (waiting rank; real / emulated)",
               ("cell", "NCCL grid x block", "stand-in blocks x threads, pollers", "NVML%", "SM%", "FMA x",
                "GEMM x", "wake p50 us"), 3)
    notes = []
    def pair(row: dict[str, Any], name: str, spec: str) -> str:
        v = row[name]
        return f"{_fmt(v['real'], spec)} / {_fmt(v['emulated'], spec)}"

    for row in rows:
        s = row["stand_in"]
        w = row["wake_us"]
        _add_row(t, row["cell"], f"{row['grid']} x {row['block']}", f"{s['blocks']} x {s['threads']}, {s['pollers']}",
                  pair(row, "nvml_util_pct", ".0f"), pair(row, "gpm_sm_util_pct", ".1f"),
                  pair(row, "fma_tput_ratio", ".2f"), pair(row, "gemm_tput_ratio", ".2f"),
                  f"{_fmt(w['real_p50'], '.0f')} / {_fmt(w['emulated_rtt_p50'], '.0f')}")
        if row["over"]:
            notes.append(f"{row['cell']}: emulation and reality differ by more than {DIFF_FLAG} in "
                         f"{', '.join(row['over'])}")
    return t, [inert(n) for n in notes]
