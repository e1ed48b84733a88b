# SPDX-License-Identifier: Apache-2.0
"""Pivot records into the rows a person reads: one row per strategy (+ preset/options) per run.

Why this shape: the question waitbench answers is "what does this way of waiting cost?", so each
row puts side by side what NVML reports, what the SMs really do, what concurrent work still gets,
how fast the waiter wakes, and what it burns in power and host CPU. Repetitions are folded by
median; a stalled workload is shown as "stalled", never as a number; a point whose spread target
was not reached is marked noisy. Rows are plain data, read by the renderers and by the plots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import pivot
from .render import NA, Column, TableData

NOISY_MARK = "~"


@dataclass
class TputCell:
    """A workload's concurrent/solo throughput ratio over the repetitions of one strategy."""

    ratio: float | None
    spread_pct: float | None
    noisy: bool
    status: str  # 'ok', 'stalled' (every repetition), or the status that kept it from a number
    n: int
    n_stalled: int
    stall_ms: float | None
    solo: float | None
    unit: str | None

    @property
    def stalled(self) -> bool:
        """True when the workload stalled beside the waiter."""
        return self.status == "stalled"

    def cost_ratio(self) -> float | None:
        """The ratio with a full stall counted as 0 (the workload got nothing while the waiter sat)."""
        return 0.0 if self.stalled else self.ratio

    def text(self) -> str:
        """The cell as shown: the ratio with its noisy mark, or why there is none."""
        if self.stalled:
            return "stalled"
        if self.ratio is None:
            return self.status if self.status != "ok" else NA
        text = f"{self.ratio:.2f}" + (NOISY_MARK if self.noisy else "")
        return text + (f" ({self.n_stalled}/{self.n} stalled)" if self.n_stalled else "")


def tput_cell(recs: Sequence[dict[str, Any]]) -> TputCell:
    """Fold the repetitions of one (strategy, options, workload) into a cell."""
    ok = [r for r in recs if r["status"] in (None, "ok") and r["tput_ratio"] is not None]
    stalled = [r for r in recs if r["status"] == "stalled"]
    ratios = [r["tput_ratio"] for r in ok]
    ratio = pivot.median(ratios)
    spreads = [r["tput_ratio_spread_pct"] for r in ok if r["tput_ratio_spread_pct"] is not None]
    rep = pivot.half_range(ratios)
    if rep is not None and ratio:
        spreads.append(200.0 * rep / abs(ratio))
    if ok:
        status = "ok"
    elif stalled:
        status = "stalled"
    else:
        status = next((r["status"] for r in recs if r["status"]), "ok")
    unit = next((r["tput_unit"] for r in recs if r["tput_unit"]), None)
    return TputCell(ratio, max(spreads) if spreads else None, any(bool(r["tput_noisy"]) for r in recs), status,
                    len(recs), len(stalled) if ok else 0, pivot.median(r["stall_ms"] for r in stalled),
                    pivot.median(r["tput_solo"] for r in ok), unit)


WAITER_METRICS = ("nvml_util_pct", "gpm_sm_util_pct", "gpm_sm_occupancy_pct", "power_delta_w", "host_cpu_pct",
                  "wake_observe_p50_us", "wake_observe_p99_us", "wake_rtt_p50_us", "wake_rtt_p99_us",
                  "wake_floor_rtt_p50_us")


@dataclass
class StrategyRow:
    """One strategy + option set of one run: waiter-alone metrics and each workload's cell."""

    label: str
    strategy: str
    preset: str | None
    options: dict[str, Any]
    mechanism: str
    repetitions: int
    metrics: dict[str, float | None]
    verdict: str | None
    waiter_status: str | None
    tput: dict[str, TputCell] = field(default_factory=dict)

    def min_cost_ratio(self) -> float | None:
        """The worst concurrent/solo ratio over workloads (a stall counts as 0): the SM cost's complement."""
        vals = [v for v in (c.cost_ratio() for c in self.tput.values()) if v is not None]
        return min(vals) if vals else None

    def raw(self) -> dict[str, Any]:
        """The row's values for JSON and CSV output."""
        out: dict[str, Any] = {"label": self.label, "strategy": self.strategy, "preset": self.preset,
                               "options": self.options, "mechanism": self.mechanism, "repetitions": self.repetitions}
        out.update(self.metrics)
        out["verdict"], out["waiter_status"] = self.verdict, self.waiter_status
        for w, c in self.tput.items():
            out.update({f"{w}_tput_ratio": c.ratio, f"{w}_tput_ratio_spread_pct": c.spread_pct,
                        f"{w}_tput_noisy": c.noisy, f"{w}_status": c.status, f"{w}_stall_ms": c.stall_ms,
                        f"{w}_tput_solo": c.solo, f"{w}_tput_unit": c.unit})
        return out


def strategy_rows(records: Sequence[dict[str, Any]]) -> list[StrategyRow]:
    """Rows of one run's 'waiter' and 'workload' records, in the strategy table's order."""
    recs = [r for r in records if r["record_kind"] in ("waiter", "workload")]
    varying = pivot.varying_options(recs)
    rows: list[StrategyRow] = []
    for group in pivot.group_combos(recs).values():
        waiters = [r for r in group if r["record_kind"] == "waiter"]
        ok_waiters = [r for r in waiters if r["status"] in (None, "ok")] or waiters
        first = group[0]
        row = StrategyRow(
            label=pivot.label_of(first, varying), strategy=first["strategy"] or "?", preset=first["preset"],
            options=pivot.options_of(first), mechanism=pivot.mechanism(first["strategy"] or ""),
            repetitions=max(len(waiters), 1),
            metrics={m: pivot.median(r[m] for r in ok_waiters) for m in WAITER_METRICS},
            verdict=pivot.mode(r["verdict"] for r in ok_waiters),
            waiter_status=pivot.mode(r["status"] for r in waiters))
        workloads = pivot.group_combos([r for r in group if r["record_kind"] == "workload"], "workload")
        by_name = {k[-1]: v for k, v in workloads.items()}
        row.tput = {w: tput_cell(by_name[w]) for w in pivot.ordered_workloads(by_name)}
        rows.append(row)
    rows.sort(key=lambda r: pivot.strategy_order(r.strategy))  # stable: keeps file order within a strategy
    return rows


def fmt_num(v: float | None) -> str:
    """A compact number for narrow columns: one decimal from 1 to 100, two below, 'k' from 10,000."""
    if v is None:
        return NA
    a = abs(v)
    if a >= 10_000:
        return f"{v / 1000:.0f}k"
    if a >= 100 or a == 0:
        return f"{v:.0f}"
    if a >= 1:
        return f"{v:.1f}"
    return f"{v:.2f}" if a >= 0.1 else f"{v:.2g}"


def fmt_pair(lo: float | None, hi: float | None) -> str:
    """``lo/hi`` (e.g. p50/p99), or n/a."""
    return NA if lo is None and hi is None else f"{fmt_num(lo)}/{fmt_num(hi)}"


def fmt_signed(v: float | None) -> str:
    """A number with its sign (+3.1, -2), or n/a."""
    return NA if v is None else ("+" if v > 0 else "") + fmt_num(v)


def _verdict_text(r: StrategyRow) -> str:
    """The verdict, with the waiter's status beside it when the wait did not end by release."""
    odd = r.waiter_status if r.waiter_status not in (None, "ok") else None
    if r.verdict and odd:
        return f"{r.verdict} ({odd})"
    return r.verdict or odd or NA


def _strategies_table(info: pivot.RunInfo, rows: list[StrategyRow]) -> TableData:
    workloads = pivot.ordered_workloads(w for r in rows for w in r.tput)
    columns = [Column("strategy", "strategy", "left", no_wrap=False), Column("util\n%", "reported util %"),
               Column("SM\n%", "SM activity %"), Column("occ\n%", "SM occupancy %", drop_order=2)]
    columns += [Column(f"{w}\n×solo", f"{w} ×solo") for w in workloads]
    columns += [Column("wake µs\np50/p99", "wake p50/p99 µs", drop_order=1),
                Column("rtt µs\np50/p99", "rtt p50/p99 µs"), Column("ΔP\nW", "power Δ W", drop_order=3),
                Column("CPU\n%", "host CPU %"), Column("verdict", "verdict", "left", drop_order=4)]
    cells = []
    for r in rows:
        m = r.metrics
        cells.append([r.label, fmt_num(m["nvml_util_pct"]), fmt_num(m["gpm_sm_util_pct"]),
                      fmt_num(m["gpm_sm_occupancy_pct"])]
                     + [r.tput[w].text() if w in r.tput else NA for w in workloads]
                     + [fmt_pair(m["wake_observe_p50_us"], m["wake_observe_p99_us"]),
                        fmt_pair(m["wake_rtt_p50_us"], m["wake_rtt_p99_us"]), fmt_signed(m["power_delta_w"]),
                        fmt_num(m["host_cpu_pct"]),
                        _verdict_text(r)])
    notes = [("util: NVML utilization.gpu (share of time a kernel is resident). SM / occ: GPM SM activity and "
             "occupancy (n/a before Hopper)."),
             (f"{'/'.join(workloads) or 'workload'} ×solo: throughput beside the waiter / alone, median of repeats; "
             f"{NOISY_MARK} = spread target not reached; stalled = no progress until the waiter left."),
             ("wake: release -> waiter sees it; rtt: release -> host sees the GPU's ack. ΔP: energy-counter power over "
             "idle. CPU: waiting thread, % of one core.")]
    return TableData("strategies", "What each wait costs", info.subtitle(), columns, cells, [r.raw() for r in rows],
                     notes, _meta(info), {"stalled": "bold red", "busy-waiting": "yellow", "idle": "green"})


@dataclass
class SweepRow:
    """One launch shape of the `spin` sweep: blocks x threads (+ other varied options), per workload."""

    label: str
    blocks: int | None
    threads: int | None
    others: tuple[tuple[str, Any], ...]
    tput: dict[str, TputCell]


def sweep_rows(records: Sequence[dict[str, Any]]) -> list[SweepRow]:
    """Rows of one run's 'sweep' records, sorted by other options, threads, then blocks."""
    recs = [r for r in records if r["record_kind"] == "sweep"]
    others_keys = sorted(pivot.varying_options(recs) - {"blocks", "threads"} - set(pivot.HIDDEN_OPTIONS))
    shapes: dict[tuple[Any, ...], dict[str, list[dict[str, Any]]]] = {}
    for r in recs:
        opts = pivot.options_of(r)
        blocks = r["waiter_blocks"] if r["waiter_blocks"] is not None else opts.get("blocks")
        threads = r["waiter_threads"] if r["waiter_threads"] is not None else opts.get("threads")
        others = tuple((k, opts.get(k)) for k in others_keys)
        shape = (r["strategy"], r["preset"], others, threads, blocks)
        shapes.setdefault(shape, {}).setdefault(r["workload"] or "?", []).append(r)
    rows = []
    for (strategy, preset, others, threads, blocks), per in shapes.items():
        label = " ".join([strategy or "?"] + ([preset] if preset else []) + [f"{k}={v}" for k, v in others]
                         + [f"threads={threads}", f"blocks={blocks}"])
        rows.append(SweepRow(label, blocks, threads, others,
                             {w: tput_cell(per[w]) for w in pivot.ordered_workloads(per)}))
    rows.sort(key=lambda r: (repr(r.others), r.threads or 0, r.blocks or 0))
    return rows


def _sweep_table(info: pivot.RunInfo, rows: list[SweepRow]) -> TableData:
    workloads = pivot.ordered_workloads(w for r in rows for w in r.tput)
    columns = [Column("launch shape", "launch shape", "left", no_wrap=False)]
    columns += [Column(f"{w}\n×solo", f"{w} ×solo") for w in workloads]
    cells = [[r.label] + [r.tput[w].text() if w in r.tput else NA for w in workloads] for r in rows]
    raw = []
    for r in rows:
        d: dict[str, Any] = {"label": r.label, "waiter_blocks": r.blocks, "waiter_threads": r.threads, **dict(r.others)}
        for w, c in r.tput.items():
            d.update({f"{w}_tput_ratio": c.ratio, f"{w}_tput_ratio_spread_pct": c.spread_pct,
                      f"{w}_tput_noisy": c.noisy, f"{w}_status": c.status})
        raw.append(d)
    notes = [f"Concurrent throughput / solo with a resident spin waiter of this shape; {NOISY_MARK} = noisy."]
    return TableData("sweep", "Launch-shape sweep", info.subtitle(), columns, cells, raw, notes, _meta(info),
                     {"stalled": "bold red"})


NCCL_METRICS = ("nvml_util_pct", "gpm_sm_util_pct", "gpm_sm_occupancy_pct", "power_delta_w", "host_cpu_pct",
                "tput_ratio", "completion_after_late_us", "late_s")


def _nccl_table(info: pivot.RunInfo, records: Sequence[dict[str, Any]]) -> TableData:
    recs = [r for r in records if r["record_kind"] == "nccl"]
    varying = pivot.varying_options(recs)
    columns = [Column("mode", "mode", "left", no_wrap=False), Column("coll.", "collective", "left"),
               Column("rank", "rank"), Column("late\ns", "late s"), Column("util\n%", "reported util %"),
               Column("SM\n%", "SM activity %"), Column("occ\n%", "SM occupancy %"), Column("ΔP\nW", "power Δ W"),
               Column("CPU\n%", "host CPU %"), Column("tput\n×solo", "concurrent ×solo"),
               Column("done\nµs", "completion after late µs"), Column("verdict", "verdict", "left")]
    cells, raw = [], []
    for group in pivot.group_combos(recs, "collective", "rank").values():
        first = group[0]
        m = {k: pivot.median(r[k] for r in group) for k in NCCL_METRICS}
        verdict = pivot.mode(r["verdict"] for r in group)
        label = pivot.label_of(first, varying)
        cells.append([label, first["collective"] or NA, str(first["rank"]) if first["rank"] is not None else NA,
                      fmt_num(m["late_s"]), fmt_num(m["nvml_util_pct"]), fmt_num(m["gpm_sm_util_pct"]),
                      fmt_num(m["gpm_sm_occupancy_pct"]), fmt_signed(m["power_delta_w"]), fmt_num(m["host_cpu_pct"]),
                      NA if m["tput_ratio"] is None else f"{m['tput_ratio']:.2f}",
                      fmt_num(m["completion_after_late_us"]), verdict or NA])
        raw.append({"label": label, "strategy": first["strategy"], "options": first["options"],
                    "collective": first["collective"], "rank": first["rank"], "world_size": first["world_size"],
                    "repetitions": len(group), **m, "verdict": verdict})
    notes = [("One row per mode and rank of a real collective with one rank late; done: completion after the late "
             "rank arrived.")]
    return TableData("nccl", "Real collectives", info.subtitle(), columns, cells, raw, notes, _meta(info),
                     {"busy-waiting": "yellow", "idle": "green"})


def _meta(info: pivot.RunInfo) -> dict[str, Any]:
    return {"run_id": info.run_id, "gpu_name": info.gpu_name, "driver_version": info.driver_version,
            "gpu_sm_count": info.gpu_sm_count, "waitbench_version": info.waitbench_version,
            "time_utc": info.time_utc, "schema_version": info.schema_version}


def build_tables(records: Sequence[dict[str, Any]],
                 kinds: Sequence[str] = ("strategies", "sweep", "nccl", "dispatch")) -> list[TableData]:
    """Every table of every run in ``records`` (runs in the order read), limited to ``kinds``."""
    tables: list[TableData] = []
    for run_id, recs in pivot.group_runs(records).items():
        info = pivot.run_info(run_id, recs)
        rows = strategy_rows(recs)
        if rows and "strategies" in kinds:
            tables.append(_strategies_table(info, rows))
        sweep = sweep_rows(recs)
        if sweep and "sweep" in kinds:
            tables.append(_sweep_table(info, sweep))
        if "nccl" in kinds and any(r["record_kind"] == "nccl" for r in recs):
            tables.append(_nccl_table(info, recs))
        if "dispatch" in kinds and any(r["record_kind"] == "dispatch" for r in recs):
            from .dispatch import dispatch_table

            tables.append(dispatch_table(recs))
    return tables
