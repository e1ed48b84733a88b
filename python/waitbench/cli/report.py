# SPDX-License-Identifier: Apache-2.0
"""``waitbench report``: tables and charts from results files, or from the shipped reference results.

Runs anywhere (no GPU): it only reads records. ``--reference`` shows the committed H100 results,
which is what a person without a GPU runs to see what waitbench measures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

from ..errors import ResultsError
from ..results import load_records
from .common import UsageError, add_output_flags, err_console, out_console

TABLE_WIDTH = 120  # width of a table written to a file or pipe (a terminal uses its own width)


def register(subparsers: Any) -> None:
    from ..report.render import FORMATS

    p = subparsers.add_parser(
        "report", help="tables and charts from results files (no GPU needed)",
        description="Show results as a table per run (reported vs real utilization, concurrent throughput, wake-up "
                    "latency, power, host CPU per strategy) and draw the charts. RESULTS are .jsonl files or "
                    "directories of them.")
    p.add_argument("results", nargs="*", metavar="RESULTS", help="results files (.jsonl) or directories of them")
    p.add_argument("--reference", action="store_true",
                   help="include the H100 reference results shipped with waitbench")
    p.add_argument("--format", choices=FORMATS, default=None, help="output format (default: table)")
    p.add_argument("--plot", metavar="PNG", help="write the headline chart to this PNG file")
    p.add_argument("--plots-dir", metavar="DIR", help="write every chart (headline, trade-off, sweep) into DIR")
    add_output_flags(p)
    p.set_defaults(handler=handle)


def load_results(paths: Sequence[str]) -> list[dict[str, Any]]:
    """Records of every path, each checked on its own so an empty or foreign file is named in the error."""
    records: list[dict[str, Any]] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise ResultsError(f"{path}: no such file or directory")
        if path.is_dir() and not any(path.glob("*.jsonl")):
            raise ResultsError(f"{path}: no *.jsonl results files in this directory")
        records.extend(load_records(path))  # every record passed results.check_record, the one validator
    return records


def output_format(args: argparse.Namespace) -> str:
    """--format, with --json as its shorthand; contradicting them is a usage error."""
    if args.json and args.format not in (None, "json"):
        raise UsageError(f"--json contradicts --format {args.format}")
    return "json" if args.json else (args.format or "table")


def table_console() -> Any:
    """The terminal's console, or one TABLE_WIDTH wide when stdout is a file or pipe."""
    if out_console.is_terminal:
        return out_console
    from rich.console import Console
    return Console(file=sys.stdout, width=TABLE_WIDTH, highlight=False)


def emit(tables: Sequence[Any], fmt: str) -> None:
    from ..report.render import print_rich, render_text

    if fmt == "table":
        print_rich(tables, table_console())
    else:
        sys.stdout.write(render_text(tables, fmt))


def handle(args: argparse.Namespace) -> int:
    from ..report import tables as report_tables
    from ..report.reference import load_reference

    fmt = output_format(args)
    if not args.results and not args.reference:
        raise UsageError("report needs RESULTS (files or directories) or --reference")
    records = load_results(args.results)
    if args.reference:
        records += load_reference()
    tables = report_tables.build_tables(records)
    if not tables:
        raise ResultsError("the results hold no waiter, workload, sweep or nccl records to report")
    emit(tables, fmt)
    written = []
    if args.plot or args.plots_dir:
        from ..report import plots
        try:
            if args.plot:
                written.append(plots.write_headline(records, args.plot))
            if args.plots_dir:
                written += plots.write_all(records, args.plots_dir)
        except ImportError as exc:  # matplotlib is an extra: say which one to install
            raise UsageError(str(exc)) from None
    if not args.quiet:
        for path in written:
            err_console.print(f"wrote {path}", markup=False, soft_wrap=True)
    return 0
