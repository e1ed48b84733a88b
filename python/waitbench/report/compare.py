# SPDX-License-Identifier: Apache-2.0
"""Compare two runs: for each strategy, option set and workload, did a metric really change?

Why conservative: a user compares drivers, GPUs or their own changes, and a difference inside the
noise a run itself recorded is not a finding. Each value carries a half-width (its uncertainty):
half the recorded relative spread for throughput ratios, the distance to the next recorded
percentile for wake-up latencies, half the range across repetitions, and a floor for metrics that
record no spread. Then, with d = |B - A| and half-widths hA, hB:

- SAME when d <= max(hA, hB) (B lies within A's band or A within B's), or when the change is
  within ``threshold_pct``;
- BETTER / WORSE when d > hA + hB (the bands are disjoint), by the metric's direction;
- AMBIGUOUS when the bands overlap without containing the other value, or no spread is known.

Pure functions on records: nothing here touches a GPU or a file. :func:`comparison_table` is the
result as a ``TableData``, so ``compare`` renders in every format as every other table does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import checks
from ..errors import invalid
from . import pivot

if TYPE_CHECKING:
    from .render import TableData

SAME, BETTER, WORSE, AMBIGUOUS = "SAME", "BETTER", "WORSE", "AMBIGUOUS"
VERDICTS = (SAME, BETTER, WORSE, AMBIGUOUS)

# PROVISIONAL: to be derived from device recordings (run-to-run noise of metrics that record no
# spread of their own: the half-width below which a change is never called real).
NVML_UTIL_FLOOR_PCT = 2.0
GPM_FLOOR_PCT = 0.5
POWER_FLOOR_W = 3.0
HOST_CPU_FLOOR_PCT = 2.0


def _next_quantile(outer: str) -> Callable[[dict[str, Any], str], float | None]:
    """Half-width of a percentile: the distance to the next recorded, outer one (p50 -> p99)."""
    def width(rec: dict[str, Any], name: str) -> float | None:
        lo, hi = rec[name], rec[outer]
        return None if lo is None or hi is None else max(hi - lo, 0.0)
    return width


def _tput_spread(rec: dict[str, Any], name: str) -> float | None:
    """Half the recorded relative spread (IQR / median of per-pair ratios) of the workload, in units of ``name``."""
    v, spread = rec[name], rec["tput_ratio_spread_pct"]
    return None if v is None or spread is None else abs(v) * spread / 200.0


# Changes smaller than this are SAME whatever the spreads say: two back-to-back runs of the examples on
# the H100 (benchmarks/examples/results) moved solo throughputs by ~0.1% with spreads far tighter than
# that, so a 0% default called run-to-run drift BETTER or WORSE.
DEFAULT_THRESHOLD_PCT = 1.0
MAX_THRESHOLD_PCT = 1000.0  # a change of 10x still counts; beyond, every verdict would be SAME

@dataclass(frozen=True)
class Metric:
    """A compared metric: which records carry it, which way is better, how its noise is known."""

    name: str
    kinds: tuple[str, ...]
    higher_is_better: bool
    points: bool  # a percentage itself: change and threshold in percentage points, not relative
    half_width: Callable[[dict[str, Any], str], float | None] | None = None
    floor: float = 0.0
    doc: str = ""
    any_status: bool = False  # measured whatever the record's status (a solo run is timed even if the pair stalled)


# For a waiting GPU every cost is better lower: less reported busy (fewer false alarms), fewer SMs
# held, less power and host CPU, a faster wake. Only what concurrent work gets is better higher.
METRICS: tuple[Metric, ...] = (
    Metric("nvml_util_pct", ("waiter", "nccl", "dispatch"), False, True, floor=NVML_UTIL_FLOOR_PCT),
    Metric("gpm_sm_util_pct", ("waiter", "nccl", "dispatch"), False, True, floor=GPM_FLOOR_PCT),
    Metric("gpm_sm_occupancy_pct", ("waiter", "nccl", "dispatch"), False, True, floor=GPM_FLOOR_PCT),
    Metric("power_delta_w", ("waiter", "nccl", "dispatch"), False, False, floor=POWER_FLOOR_W,
           doc="relative change measured against A's board power (power_w), since the delta itself may be ~0"),
    Metric("host_cpu_pct", ("waiter", "nccl", "dispatch"), False, True, floor=HOST_CPU_FLOOR_PCT),
    Metric("wake_observe_p50_us", ("waiter",), False, False, _next_quantile("wake_observe_p99_us")),
    Metric("wake_observe_p99_us", ("waiter",), False, False, _next_quantile("wake_observe_p999_us")),
    Metric("wake_rtt_p50_us", ("waiter",), False, False, _next_quantile("wake_rtt_p99_us")),
    Metric("wake_rtt_p99_us", ("waiter",), False, False, _next_quantile("wake_rtt_p999_us")),
    Metric("tput_ratio", ("workload", "sweep", "nccl"), True, False, _tput_spread),
    Metric("tput_solo", ("workload",), True, False, _tput_spread, any_status=True,
           doc="the ratio's recorded spread stands in for the solo run's own (not recorded)"),
    Metric("completion_after_late_us", ("nccl",), False, False),
    Metric("side_call_ms", ("nccl",), False, False, doc="how long a call made during the wait took (nccl --calls)"),
    Metric("dispatch_recv_p50_us", ("dispatch",), False, False, _next_quantile("dispatch_recv_p99_us")),
    Metric("dispatch_recv_p99_us", ("dispatch",), False, False, _next_quantile("dispatch_recv_p999_us")),
    Metric("dispatch_kernel_p50_us", ("dispatch",), False, False, _next_quantile("dispatch_kernel_p99_us")),
    Metric("dispatch_kernel_p99_us", ("dispatch",), False, False, _next_quantile("dispatch_kernel_p999_us")),
)


@dataclass(frozen=True)
class Value:
    """One side of a comparison: median over repetitions, its half-width, and why it may be missing."""

    value: float | None
    half_width: float | None
    status: str
    n: int
    scale: float | None = None  # what a relative change is measured against (A's board power for power_delta_w)


@dataclass(frozen=True)
class Comparison:
    """One metric of one strategy, options and workload, in A and B, with the change and verdict."""

    label: str
    workload: str | None
    metric: str
    a: Value | None
    b: Value | None
    change: float | None  # B - A, in the metric's unit
    change_pct: float | None  # relative percent, or percentage points for metrics that are percentages
    verdict: str
    reason: str


@dataclass
class CompareResult:
    """Every comparison, what only one run holds, and warnings about what differs between the runs."""

    rows: list[Comparison]
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    threshold_pct: float = DEFAULT_THRESHOLD_PCT

    def counts(self) -> dict[str, int]:
        """How many comparisons got each verdict."""
        return {v: sum(1 for r in self.rows if r.verdict == v) for v in VERDICTS}


def _value(recs: Sequence[dict[str, Any]], m: Metric) -> Value:
    ok = [r for r in recs if (m.any_status or r["status"] in (None, "ok")) and r[m.name] is not None]
    if not ok:
        status = "stalled" if any(r["status"] == "stalled" for r in recs) else \
            next((r["status"] for r in recs if r["status"] not in (None, "ok")), "not measured")
        return Value(None, None, status, len(recs))
    widths = [w for w in (m.half_width(r, m.name) if m.half_width else None for r in ok) if w is not None]
    rep = pivot.half_range(r[m.name] for r in ok)
    if rep is not None:
        widths.append(rep)
    if m.floor:
        widths.append(m.floor)
    scale = pivot.median(r["power_w"] for r in ok) if m.name == "power_delta_w" else None
    return Value(pivot.median(r[m.name] for r in ok), max(widths) if widths else None, "ok", len(recs), scale)


def judge(m: Metric, a: Value, b: Value, threshold_pct: float) -> tuple[float | None, float | None, str, str]:
    """(change, change_pct, verdict, reason) for one metric of one combination."""
    if a.status == b.status == "stalled":
        return None, None, SAME, "stalled in both"
    if {a.status, b.status} == {"ok", "stalled"}:
        worse = b.status == "stalled"
        return None, None, (WORSE if worse else BETTER), ("stalled in B only" if worse else "stalled in A only")
    if a.value is None or b.value is None:
        missing = "A" if a.value is None else "B"
        return None, None, AMBIGUOUS, f"not measured in {missing} ({(a if missing == 'A' else b).status})"
    d = b.value - a.value
    base = a.scale if a.scale else abs(a.value)
    change_pct = d if m.points else (100.0 * d / base if base else None)
    if d == 0:
        return d, change_pct, SAME, "no change"
    ha = a.half_width if a.half_width is not None else b.half_width
    hb = b.half_width if b.half_width is not None else a.half_width
    under_threshold = change_pct is not None and abs(change_pct) <= threshold_pct
    if ha is None or hb is None:
        return d, change_pct, (SAME if under_threshold else AMBIGUOUS), \
            ("under threshold" if under_threshold else "no spread recorded")
    if abs(d) <= max(ha, hb):
        return d, change_pct, SAME, "within spread"
    if under_threshold:
        return d, change_pct, SAME, "beyond spread, under threshold"
    if abs(d) <= ha + hb:
        return d, change_pct, AMBIGUOUS, "spreads overlap"
    better = (d > 0) == m.higher_is_better
    return d, change_pct, (BETTER if better else WORSE), "beyond spread"


_IDENTITY = ("gpu_name", "driver_version", "schema_version")


def _identity_warnings(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> list[str]:
    warnings = []
    for name in _IDENTITY:
        va = sorted({str(r[name]) for r in a})
        vb = sorted({str(r[name]) for r in b})
        if va != vb:
            warnings.append(f"{name} differs: A has {', '.join(va)}; B has {', '.join(vb)}")
    return warnings


def _grouped(records: Sequence[dict[str, Any]]) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    """Records keyed by (kind, combo, workload, collective, rank, side call): the unit that is compared."""
    return pivot.group_combos(records, "record_kind", "workload", "collective", "rank", "side_call")


def compare(records_a: Sequence[dict[str, Any]], records_b: Sequence[dict[str, Any]],
            threshold_pct: float = DEFAULT_THRESHOLD_PCT) -> CompareResult:
    """Compare every metric of every (strategy, options, workload) present in both A and B."""
    threshold_pct = checks.number("threshold", threshold_pct, 0.0, MAX_THRESHOLD_PCT,
                                  valid=f"a number of percent in [0, {MAX_THRESHOLD_PCT:g}]")
    ga, gb = _grouped(records_a), _grouped(records_b)
    varying = pivot.varying_options([*records_a, *records_b])

    def name(key: tuple[Any, ...], recs: Sequence[dict[str, Any]]) -> str:
        label = pivot.label_of(recs[0], varying)
        extra = [str(x) for x in (key[4], key[5], key[7]) if x is not None] + (
            [f"rank {key[6]}"] if key[6] is not None else [])
        return " ".join([label, *extra, f"({key[3]})"])

    result = CompareResult([], threshold_pct=float(threshold_pct), warnings=_identity_warnings(records_a, records_b))
    result.only_a = [name(k, v) for k, v in ga.items() if k not in gb]
    result.only_b = [name(k, v) for k, v in gb.items() if k not in ga]
    for key, recs_a in ga.items():
        if key not in gb:
            continue
        recs_b = gb[key]
        kind = key[3]
        label = pivot.label_of(recs_a[0], varying) + (f" rank {key[6]}" if key[6] is not None else "")
        label += " (sweep)" if kind == "sweep" else ""  # the sweep's 1 x 32 point is also the suite's default spin
        for m in METRICS:
            if kind not in m.kinds:
                continue
            va, vb = _value(recs_a, m), _value(recs_b, m)
            if {va.status, vb.status} <= {"not measured", "skipped"}:
                continue  # a metric neither run has (GPM before Hopper, a mode skipped in both) is not a comparison
            change, pct, verdict, reason = judge(m, va, vb, threshold_pct)
            workload = " ".join(str(x) for x in (key[4], key[5], key[7]) if x is not None) or None
            result.rows.append(Comparison(label, workload, m.name, va, vb, change, pct, verdict, reason))
    return result


def metric(name: str) -> Metric:
    """The compared metric called ``name``; ValueError naming the valid ones otherwise."""
    for m in METRICS:
        if m.name == name:
            return m
    raise invalid("metric", name, "one of " + ", ".join(m.name for m in METRICS))


def to_dict(result: CompareResult) -> dict[str, Any]:
    """A JSON-ready view of a comparison (used by ``waitbench compare --format json``)."""
    def side(v: Value | None) -> dict[str, Any] | None:
        return None if v is None else {"value": v.value, "half_width": v.half_width, "status": v.status, "n": v.n}
    return {"threshold_pct": result.threshold_pct, "warnings": result.warnings, "counts": result.counts(),
            "only_in_a": result.only_a, "only_in_b": result.only_b,
            "rows": [{"label": r.label, "workload": r.workload, "metric": r.metric, "a": side(r.a), "b": side(r.b),
                      "change": r.change, "change_pct": r.change_pct, "points": metric(r.metric).points,
                      "verdict": r.verdict, "reason": r.reason} for r in result.rows]}


def dumps(result: CompareResult) -> str:
    """The comparison as indented JSON (``compare --json``)."""
    return json.dumps(to_dict(result), indent=2) + "\n"


ONLY_SHOWN = 6  # combinations named in the "only in A/B" note; the JSON output lists them all
SCALED_MARK = "*"  # marks a relative change measured against something other than the value itself


def _side(v: Any) -> str:
    """Value ± half-width, rounded to the half-width's first significant digit (the convention for errors)."""
    from .tables import fmt_num

    if v is None or v.value is None:
        return v.status if v is not None else "n/a"
    if not v.half_width or abs(v.value) >= 10_000:
        return fmt_num(v.value) + (f"±{fmt_num(v.half_width)}" if v.half_width else "")
    digits = min(max(-math.floor(math.log10(v.half_width)), 0), 4)
    return f"{v.value:.{digits}f}±{v.half_width:.{digits}f}"


def comparison_table(result: CompareResult) -> TableData:
    """The comparison as a TableData, so every output format renders it (``compare``'s table)."""
    from .render import Column, TableData
    from .tables import fmt_signed

    columns = [Column("strategy", "strategy", "left", no_wrap=False, stack_order=1),
               Column("workload", "workload", "left", stack_order=1), Column("metric", "metric", "left"),
               Column("A", "A"), Column("B", "B"), Column("change", "change"), Column("verdict", "verdict", "left"),
               Column("why", "why", "left", no_wrap=False, drop_order=2)]
    cells = []
    scaled = False
    for r in result.rows:
        m = metric(r.metric)
        change = "" if r.change_pct is None else fmt_signed(r.change_pct) + (" pt" if m.points else "%")
        if change and r.a is not None and r.a.scale:  # relative to A's board power, not to the delta itself
            change += SCALED_MARK
            scaled = True
        cells.append([r.label, r.workload or "", r.metric, _side(r.a), _side(r.b), change,
                      r.verdict, r.reason])
    counts = " · ".join(f"{n} {v}" for v, n in result.counts().items() if n)  # a short line of its own: never cut
    notes = [counts or "nothing to compare", (f"B against A; threshold {result.threshold_pct:g}% (points for _pct "
             "metrics); ±: half-width from the recorded spread.")]
    if scaled:
        notes.append(f"{SCALED_MARK}: power_delta_w's change is relative to A's board power (power_w), as the delta "
                     "over idle itself may be near 0.")
    for side, names in (("A", result.only_a), ("B", result.only_b)):
        if names:
            more = f"; and {len(names) - ONLY_SHOWN} more" if len(names) > ONLY_SHOWN else ""
            notes.append(f"only in {side} ({len(names)}): " + "; ".join(names[:ONLY_SHOWN]) + more)
    raw = to_dict(result)["rows"]
    return TableData("compare", "Comparison", "A vs B", columns, cells, raw, notes,
                     {"run_id": None, "threshold_pct": result.threshold_pct},
                     {"WORSE": "bold red", "BETTER": "bold green", "AMBIGUOUS": "yellow", "SAME": "dim"})
