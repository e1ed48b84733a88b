# SPDX-License-Identifier: Apache-2.0
"""What `run` and `sweep` share: GPU and workload checks, the session, the results file, the table."""

from __future__ import annotations

import argparse
import importlib.util
from contextlib import contextmanager
from typing import Callable, Iterator

from .. import results
from .._native import gpu_unavailable_reason
from ..errors import NoGpuError
from ..runner import Session, Settings
from ..workloads import BUILTIN
from .common import default_results_path, err_console, out_console, split_list
from .progress import steps


def workloads_from(args: argparse.Namespace) -> list[str]:
    names = split_list(args.workloads, "--workloads", BUILTIN)
    if "gemm" in names and importlib.util.find_spec("torch") is None:
        if not args.quiet:
            err_console.print("note: gemm skipped: it needs torch (pip install 'waitbench[torch]')")
        names.remove("gemm")
    return names


def require_gpu_or_explain(gpu: int) -> None:
    reason = gpu_unavailable_reason()
    if reason:
        raise NoGpuError(f"{reason}; to see what waitbench measures, read the reference results: "
                         "waitbench report --reference")


@contextmanager
def session(args: argparse.Namespace, workloads: list[str], settings: Settings, total_steps: int
            ) -> Iterator[tuple[Session, Callable[[str], None]]]:
    """A session writing to --out, with a progress bar; says where the results are, even on Ctrl-C."""
    path = args.out or default_results_path()
    writer = results.ResultsWriter(path)
    try:
        with steps(total_steps, args.quiet) as advance:
            with Session(args.gpu, workloads, settings, writer, advance) as s:
                yield s, advance
    finally:
        writer.close()
        if not args.quiet:
            err_console.print(f"{writer.count} records written to {path}")


def show(records: list[dict], args: argparse.Namespace, kinds: tuple[str, ...]) -> None:
    """Print the run's table (or its JSON with --json) through the report module."""
    from ..report.render import print_rich, render_text
    from ..report.tables import build_tables

    tables = build_tables(records, kinds)
    if args.json:
        print(render_text(tables, "json"))
    else:
        print_rich(tables, out_console)
