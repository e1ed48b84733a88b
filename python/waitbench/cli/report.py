# SPDX-License-Identifier: Apache-2.0
"""``waitbench report``: tables and charts from results files, or from the shipped reference results.

Runs anywhere (no GPU): it only reads records. ``--reference`` shows the committed H200 results,
which is what a person without a GPU runs to see what waitbench measures. Files are streamed and
kept as compact records (:mod:`waitbench.report.compact`), so a long run's file fits in memory;
chart targets are checked before anything is printed or written (:mod:`waitbench.report.images`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ResultsError
from ..inert import inert
from ..results import results_files, unique_records
from .common import UsageError, add_format_flag, add_output_flags, console, err_console, out_console, output_format

TABLE_WIDTH = 120  # width of a table written to a file or pipe (a terminal uses its own width)


def register(subparsers: Any) -> None:
    """Add the report subcommand to the CLI."""
    from ..report.images import FORMATS as IMAGE_SUFFIXES

    p = subparsers.add_parser(
        "report", help="tables and charts from results files (no GPU needed)",
        description="Show results as a table per run (reported vs real utilization, concurrent throughput, wake-up "
                    "latency, power, host CPU per strategy) and draw the charts. RESULTS are .jsonl files or "
                    "directories of them.")
    p.add_argument("results", nargs="*", metavar="RESULTS", help="results files (.jsonl) or directories of them")
    p.add_argument("--reference", action="store_true",
                   help="include the H200 reference results shipped with waitbench")
    add_format_flag(p)
    p.add_argument("--plot", metavar="FILE",
                   help="write the headline chart to FILE, in the format its suffix names: "
                        + ", ".join(IMAGE_SUFFIXES))
    p.add_argument("--plots-dir", metavar="DIR", help="write every chart (headline, trade-off, sweep) into DIR as PNG")
    p.add_argument("--force", action="store_true",
                   help="let --plot/--plots-dir replace an existing file that is not an image of that format "
                        "(never a file the report reads)")
    add_output_flags(p)
    p.set_defaults(handler=handle)


def input_files(paths: Sequence[str], argument: str = "RESULTS") -> list[Path]:
    """The results files behind the given paths (each named in the error if it is missing or empty)."""
    return results_files(list(paths), argument) if paths else []


def load_results(paths: Sequence[str | Path], argument: str = "RESULTS") -> list[Any]:
    """Compact records of every file behind ``paths``, streamed; a file without records is named in the error."""
    from ..report.compact import Compactor

    compact = Compactor()
    return [compact(rec) for rec in unique_records(results_files(list(paths), argument), each_file=True)]


def table_console() -> Any:
    """The terminal's console, or one TABLE_WIDTH wide when stdout is a file or pipe."""
    if out_console.is_terminal:
        return out_console
    return console(file=sys.stdout, width=TABLE_WIDTH)


def emit(tables: Sequence[Any], fmt: str) -> None:
    """Print ``tables`` in format ``fmt`` on stdout (rich tables for 'table')."""
    from ..report.render import print_rich, render_text

    if fmt == "table":
        print_rich(tables, table_console())
    else:
        sys.stdout.write(render_text(tables, fmt))


def _reference_inputs() -> list[Path]:
    from importlib import resources

    from ..report.reference import reference_files

    out = []
    for f in reference_files():
        with resources.as_file(f) as path:
            out.append(Path(path))
    return out


def handle(args: argparse.Namespace) -> int:
    """Print the tables of the results (and the reference) and write the charts asked for."""
    from ..report import images
    from ..report import tables as report_tables
    from ..report.reference import load_reference

    fmt = output_format(args)
    if not args.results and not args.reference:
        raise UsageError("report needs RESULTS (files or directories) or --reference")
    files = input_files(args.results)
    inputs = files + (_reference_inputs() if args.reference else [])
    if args.plot is not None:  # checked before anything is read, drawn or printed
        images.check_target(args.plot, "--plot", inputs, args.force)
    if args.plots_dir is not None:
        images.check_folder(args.plots_dir, "--plots-dir")
    records = load_results(files) if files else []
    if args.reference:
        from ..report.compact import compact_all
        records += compact_all(load_reference())
    tables = report_tables.build_tables(records)
    if not tables:
        raise ResultsError("the results hold no waiter, workload, sweep, nccl or dispatch records to report")
    planned = _plan_charts(args, records, inputs)
    emit(tables, fmt)
    from ..report import plots

    written = plots.write(planned) if planned else []
    if not args.quiet:
        for path in written:
            err_console.print(inert(f"wrote {path}"), markup=False, soft_wrap=True)
    return 0


def _plan_charts(args: argparse.Namespace, records: Sequence[Any], inputs: Sequence[Path]) -> list[Any]:
    """Every chart drawn and its target checked, before the first table is printed or file written."""
    if args.plot is None and args.plots_dir is None:
        return []
    try:
        from ..report import plots

        planned = []
        if args.plot is not None:
            planned += plots.plan_headline(records, args.plot, inputs=inputs, force=args.force)
        if args.plots_dir is not None:
            planned += plots.plan_all(records, args.plots_dir, inputs=inputs, force=args.force)
    except ImportError as exc:  # matplotlib is an extra: say which one to install
        raise UsageError(str(exc)) from None
    targets = [t.resolve() for t, _ in planned]
    if len(set(targets)) != len(targets):
        raise UsageError("--plot names a file that --plots-dir also writes: pick another name")
    return planned
