# SPDX-License-Identifier: Apache-2.0
"""``waitbench compare A B``: the same metrics of two runs side by side, with the change.

Each change is judged against the spread each run recorded (SAME / BETTER / WORSE / AMBIGUOUS).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .. import checks
from ..inert import inert
from ..report.compare import DEFAULT_THRESHOLD_PCT, MAX_THRESHOLD_PCT
from .common import EXIT_FAILURE, add_format_flag, add_output_flags, err_console, output_format
from .report import emit, load_results


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


def handle(args: argparse.Namespace) -> int:
    """Compare the two runs and print the table (or JSON); exit 1 on WORSE with --fail-on-worse."""
    from ..report.compare import WORSE, compare, comparison_table, dumps

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
        table = comparison_table(result)
        table.subtitle = f"A: {args.a}  B: {args.b}"
        emit([table], fmt)
    if args.fail_on_worse and result.counts()[WORSE]:
        return EXIT_FAILURE
    return 0
