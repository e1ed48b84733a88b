# SPDX-License-Identifier: Apache-2.0
"""What `run` and `sweep` share: GPU and workload checks, the session, the results file, the table."""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .. import results
from .._native import gpu_unavailable_reason, require_gpu
from ..errors import NoGpuError, invalid
from ..runner import Session, Settings
from ..telemetry.gpu_names import cuda_index, nvml_spec
from ..workloads import BUILTIN
from .common import default_results_path, err_console, out_console, split_list
from .progress import steps

GEMM_SKIPPED = "note: gemm skipped: it needs torch (pip install 'waitbench[torch]')"


def workloads_from(args: argparse.Namespace) -> list[str]:
    """--workloads as names; gemm is left out where torch is missing (the session says so once it starts)."""
    names = split_list(args.workloads, "--workloads", BUILTIN)
    if "gemm" in names and importlib.util.find_spec("torch") is None:
        names.remove("gemm")
        if not names:
            raise invalid("--workloads", args.workloads, "at least one workload this machine can run (gemm needs "
                          "torch: pip install 'waitbench[torch]')")
    return names


def note_skipped(args: argparse.Namespace, workloads: list[str]) -> None:
    """Say which workloads of --workloads are left out (gemm without torch), unless --quiet."""
    if not args.quiet and "gemm" in split_list(args.workloads, "--workloads", BUILTIN) and "gemm" not in workloads:
        err_console.print(GEMM_SKIPPED, markup=False)


def output_path(args: argparse.Namespace) -> str:
    """--out (default: results/<timestamp>.jsonl), checked before any measuring: nothing is created yet."""
    path = args.out if args.out is not None else default_results_path()
    results.ResultsWriter(path, argument="--out").close()
    return path


def check_common(args: argparse.Namespace) -> tuple[list[str], str]:
    """What run and sweep check before looking for a GPU: --gpu, --workloads, --out."""
    if args.gpu is not None:
        nvml_spec(args.gpu, "--gpu")
    return workloads_from(args), output_path(args)


def require_gpu_or_explain(args: argparse.Namespace) -> None:
    """Set ``args.cuda_index`` to --gpu's CUDA device (by UUID), or explain why there is none.

    NoGpuError pointing to the reference results when no GPU is usable; ValueError for a --gpu that
    NVML does not have or CUDA does not see here.
    """
    reason = gpu_unavailable_reason()
    if reason:
        raise NoGpuError(f"{reason}; to see what waitbench measures, read the reference results: "
                         "waitbench report --reference")
    args.cuda_index = 0 if args.gpu is None else cuda_index(args.gpu, "--gpu")
    require_gpu(args.cuda_index)


@contextmanager
def session(args: argparse.Namespace, workloads: list[str], settings: Settings, total_steps: int, path: str
            ) -> Iterator[tuple[Session, Callable[[str], None]]]:
    """A session writing to ``path`` (--out), with a progress bar; says where the results are, even on Ctrl-C.

    Notes about workloads left out come here, once the GPU is known to be usable: without one, its
    one-line error is all that is printed.
    """
    note_skipped(args, workloads)
    writer = results.ResultsWriter(path, argument="--out")
    try:
        with steps(total_steps, args.quiet) as advance, \
                Session(args.cuda_index, workloads, settings, writer, advance) as s:
            yield s, advance
    finally:
        writer.close()
        if not args.quiet:
            err_console.print(f"{writer.count} records written to {path}", markup=False, soft_wrap=True)


def show(records: list[dict], args: argparse.Namespace, kinds: tuple[str, ...]) -> None:
    """Print the run's table (or its JSON with --json) through the report module."""
    from ..report.render import print_rich, render_text
    from ..report.tables import build_tables

    tables = build_tables(records, kinds)
    if args.json:
        print(render_text(tables, "json"))
    else:
        print_rich(tables, out_console)
