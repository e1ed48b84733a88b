# SPDX-License-Identifier: Apache-2.0
"""Tables of real-collective runs (``waitbench nccl``): episodes, side calls, emulation beside reality.

Each function takes records and returns a ``report.render.TableData`` (its notes with it), or None
when the records hold nothing of that kind, so every table renders as every format ``report``
has (rich, markdown, csv, JSON; text made inert there). Pure: they read records only, so they
render files on any machine. Beside the rest of waitbench nccl (not in report/) because they read
its emulation plan: report/ reads records and imports no tool.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..report.render import Column, TableData
from .emulate import DIFF_FLAG, compare_rows

EPISODE_FIELDS = ("nvml_util_pct", "gpm_sm_util_pct", "wake_rtt_p50_us", "wake_floor_rtt_p50_us", "power_delta_w",
                  "host_cpu_pct", "verdict")
VERDICT_STYLES = {"busy-waiting": "yellow", "idle": "green", "stalled": "bold red", "error": "bold red"}


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


def _subtitle(recs: Sequence[dict[str, Any]]) -> str:
    """What the records ran on: GPU, ranks, backend, run id (as far as the first record says)."""
    r = recs[0]
    parts = [f"{r.get('gpu_name') or 'no GPU'} x{r.get('world_size') or '?'}", r.get("backend") or "",
             f"run {r['run_id']}" if r.get("run_id") else ""]
    return " · ".join(p for p in parts if p)


def _columns(headers: Sequence[str], left: int) -> list[Column]:
    """Columns whose header is also the long one; the first ``left`` hold text, the others numbers."""
    return [Column(h, h, "left" if i < left else "right") for i, h in enumerate(headers)]


def episode_table(records: Sequence[dict[str, Any]]) -> TableData | None:
    """One row per mode, cell and rank: what the GPU reported and did, what work kept, the wake-up."""
    recs = [r for r in records if r.get("record_kind") == "nccl" and not r.get("side_call")]
    if not recs:
        return None
    first = recs[0]
    columns = _columns(("mode", "cell", "rank", "status", "NVML%", "SM%", "FMA x", "GEMM x", "wake", "aligned", "W+",
                        "CPU%", "verdict"), 4)
    cells: list[list[str]] = []
    raw: list[dict[str, Any]] = []
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
        cells.append([mode, f"{proto or 'auto'} {coll} {size_label(size)}", rank_label,
                      status, _fmt(r["nvml_util_pct"], ".0f"), _fmt(r["gpm_sm_util_pct"], ".1f"),
                      _fmt(ratio.get("fma"), ".2f"), _fmt(ratio.get("gemm"), ".2f"),
                      _fmt(r["wake_rtt_p50_us"], ".0f"), _fmt(r["wake_floor_rtt_p50_us"], ".0f"),
                      _fmt(r["power_delta_w"], "+.0f"), _fmt(r["host_cpu_pct"], ".0f"), r["verdict"] or "-"])
        raw.append({"mode": mode, "protocol": proto, "collective": coll, "message_bytes": size, "rank": rank,
                    "role": r["role"], "status": status, **{k: r[k] for k in EPISODE_FIELDS},
                    **{f"{w}_tput_ratio": v for w, v in ratio.items()}})
    title = (f"waitbench nccl: rank {first['late_rank']} arrives {first['late_s']:g} s late (wake: late rank's "
             "call -> completion seen, us; aligned: both arrive together)")
    return TableData("nccl-episodes", title, _subtitle(recs), columns, cells, raw, list(dict.fromkeys(notes)),
                     {"late_rank": first["late_rank"], "late_s": first["late_s"]}, VERDICT_STYLES)


def calls_table(records: Sequence[dict[str, Any]]) -> TableData | None:
    """Which common calls return during a wait and which wait for the late rank."""
    recs = [r for r in records if r.get("record_kind") == "nccl" and r.get("side_call")]
    if not recs:
        return None
    cells, raw = [], []
    for r in recs:
        after = r["side_call_after_late_ms"]
        when = "-" if after is None else ("after the late rank" if after > 0 else "during the wait")
        cells.append([r["side_call"], str(r["rank"]), r["status"], _fmt(r["side_call_ms"], ".2f"), when,
                      _fmt(after, "+.2f")])
        raw.append({k: r[k] for k in ("side_call", "rank", "status", "side_call_ms", "side_call_after_late_ms")})
    columns = _columns(("call", "rank", "status", "took ms", "returned", "after arrival ms"), 3)
    return TableData("nccl-calls", f"calls made {recs[0]['late_s']:g} s waits into a collective whose peer is late",
                     _subtitle(recs), columns, cells, raw, [], {"late_s": recs[0]["late_s"]})


def emulation_table(records: Sequence[dict[str, Any]]) -> TableData | None:
    """Reality beside its emulated stand-in, per real cell; gaps over DIFF_FLAG named in the notes."""
    rows = compare_rows(records)
    if not rows:
        return None
    columns = _columns(("cell", "NCCL grid x block", "stand-in blocks x threads, pollers", "NVML%", "SM%", "FMA x",
                        "GEMM x", "wake p50 us"), 3)
    cells = []
    notes = []
    def pair(row: dict[str, Any], name: str, spec: str) -> str:
        v = row[name]
        return f"{_fmt(v['real'], spec)} / {_fmt(v['emulated'], spec)}"

    for row in rows:
        s = row["stand_in"]
        w = row["wake_us"]
        cells.append([row["cell"], f"{row['grid']} x {row['block']}", f"{s['blocks']} x {s['threads']}, {s['pollers']}",
                      pair(row, "nvml_util_pct", ".0f"), pair(row, "gpm_sm_util_pct", ".1f"),
                      pair(row, "fma_tput_ratio", ".2f"), pair(row, "gemm_tput_ratio", ".2f"),
                      f"{_fmt(w['real_p50'], '.0f')} / {_fmt(w['emulated_rtt_p50'], '.0f')}"])
        if row["over"]:
            notes.append(f"{row['cell']}: emulation and reality differ by more than {DIFF_FLAG} in "
                         f"{', '.join(row['over'])}")
    return TableData("nccl-emulation", "emulation beside reality (waiting rank; real / emulated)",
                     _subtitle([r for r in records if r.get("record_kind") == "nccl"] or records), columns, cells,
                     list(rows), notes, {})
