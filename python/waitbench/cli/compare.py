# SPDX-License-Identifier: Apache-2.0
"""``waitbench compare A B``: the same metrics of two runs side by side, with the change.

Each change is judged against the spread each run recorded (SAME / BETTER / WORSE / AMBIGUOUS).
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from .. import checks
from ..inert import inert
from ..report.compare import DEFAULT_THRESHOLD_PCT, MAX_THRESHOLD_PCT
from .common import EXIT_FAILURE, add_format_flag, add_output_flags, err_console, output_format
from .report import emit, load_results

ONLY_SHOWN = 6  # combinations named in the "only in A/B" note; the JSON output lists them all
SCALED_MARK = "*"  # marks a relative change measured against something other than the value itself


def register(subparsers: Any) -> None:
    """Add the compare subcommand to the CLI."""
    p = subparsers.add_parser(
        "compare", help="compare two runs metric by metric, against their recorded spreads",
        description="Compare results A (baseline) with B: per strategy, options and workload, each metric's change "
                    "and a verdict from the spreads both runs recorded. Warns when GPU, driver or schema differ.")
    p.add_argument("a", metavar="A", help="baseline results: a .jsonl file or a directory of them")
    p.add_argument("b", metavar="B", help="results to compare with A")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD_PCT, metavar="PCT",
                   help="changes within PCT percent (percentage points for metrics that are percentages) are SAME, "
                        f"0..{MAX_THRESHOLD_PCT:g} (default: %(default)s; 0: only the spreads decide)")
    add_format_flag(p)
    p.add_argument("--fail-on-worse", action="store_true", help=f"exit {EXIT_FAILURE} when any metric is WORSE")
    add_output_flags(p)
    p.set_defaults(handler=handle)


def _side(v: Any) -> str:
    """Value ± half-width, rounded to the half-width's first significant digit (the convention for errors)."""
    from ..report.tables import fmt_num

    if v is None or v.value is None:
        return v.status if v is not None else "n/a"
    if not v.half_width or abs(v.value) >= 10_000:
        return fmt_num(v.value) + (f"±{fmt_num(v.half_width)}" if v.half_width else "")
    digits = min(max(-math.floor(math.log10(v.half_width)), 0), 4)
    return f"{v.value:.{digits}f}±{v.half_width:.{digits}f}"


def compare_table(result: Any) -> Any:
    """The comparison as a TableData, so every output format renders it."""
    from ..report.compare import metric
    from ..report.render import Column, TableData
    from ..report.tables import fmt_signed

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
    from ..report.compare import to_dict
    raw = to_dict(result)["rows"]
    return TableData("compare", "Comparison", "A vs B", columns, cells, raw, notes,
                     {"run_id": None, "threshold_pct": result.threshold_pct},
                     {"WORSE": "bold red", "BETTER": "bold green", "AMBIGUOUS": "yellow", "SAME": "dim"})


def handle(args: argparse.Namespace) -> int:
    """Compare the two runs and print the table (or JSON); exit 1 on WORSE with --fail-on-worse."""
    from ..report.compare import WORSE, compare, dumps

    fmt = output_format(args)
    checks.number("--threshold", args.threshold, 0.0, MAX_THRESHOLD_PCT,
                  valid=f"a number of percent in [0, {MAX_THRESHOLD_PCT:g}]")
    records_a, records_b = load_results([args.a], "A"), load_results([args.b], "B")
    result = compare(records_a, records_b, threshold_pct=args.threshold)
    for w in result.warnings:
        err_console.print(inert(f"warning: {w}"), markup=False, soft_wrap=True)  # GPU names, drivers from files
    if fmt == "json":
        sys.stdout.write(dumps(result))
    else:
        table = compare_table(result)
        table.subtitle = f"A: {args.a}  B: {args.b}"
        emit([table], fmt)
    if args.fail_on_worse and result.counts()[WORSE]:
        return EXIT_FAILURE
    return 0
