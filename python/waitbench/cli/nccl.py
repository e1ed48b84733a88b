# SPDX-License-Identifier: Apache-2.0
"""``waitbench nccl``: real collectives with one rank late, every mode side by side.

One process per GPU (spawned), or one rank of a ``torchrun`` job (detected from its environment, so
the same command scales to several nodes). ``--backend gloo`` runs the same orchestration on CPUs: a
dry run whose GPU metrics are null with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from ..errors import invalid
from ..nccl.config import ScenarioConfig, validate_config
from ..nccl.modes import BACKENDS, COLLECTIVES, MODES, parse_modes
from .common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    add_output_flags,
    default_results_path,
    err_console,
    fail,
    out_console,
)
from .progress import steps

MAX_GLOO_NPROC = 64
TABLE_WIDTH = 112


def register(sub: argparse._SubParsersAction) -> None:
    modes = "\n".join(f"  {m.name:<20} {m.doc}" for m in MODES.values())
    p = sub.add_parser(
        "nccl", help="real collectives on >= 2 GPUs: one rank arrives late, each way of waiting side by side",
        description="Run a collective in which one rank arrives late, once per mode, and record what the "
                    "waiting GPUs report, what they really do, what concurrent work still gets, power, host "
                    "CPU and completion latency. Spawns one process per GPU, or runs as one rank under torchrun.",
        epilog=f"modes:\n{modes}", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nproc", type=int, default=None, metavar="N",
                   help="ranks to spawn (default: every GPU; 2 with --backend gloo); under torchrun its world size")
    p.add_argument("--modes", default="all", metavar="A,B", help="comma-separated modes, or 'all' (default)")
    p.add_argument("--collective", choices=COLLECTIVES, default="all_reduce", help="default: all_reduce")
    p.add_argument("--late-s", type=float, default=3.0, metavar="D",
                   help="how late the late rank arrives, seconds (default: 3; telemetry needs >= ~2)")
    p.add_argument("--late-rank", type=int, default=0, metavar="R",
                   help="which rank arrives late; it is also the broadcast root (default: 0)")
    p.add_argument("--backend", choices=BACKENDS, default="nccl",
                   help="nccl (GPUs) or gloo (the same orchestration on CPUs, GPU metrics null)")
    p.add_argument("--out", metavar="FILE", help="JSON Lines file to append to (default: results/<timestamp>.jsonl)")
    add_output_flags(p)
    p.set_defaults(handler=handle)


def _gpu_count() -> int:
    try:
        import torch

        return int(torch.cuda.device_count())
    except Exception:  # noqa: BLE001 - no driver, broken CUDA: no GPU to run on
        return 0


def handle(args: argparse.Namespace) -> int:
    modes = parse_modes(args.modes)
    try:
        import torch  # noqa: F401
    except ImportError:
        return fail("nccl: needs torch: pip install 'waitbench[torch]'", EXIT_FAILURE)
    from ..nccl.launch import run, under_torchrun

    nproc = args.nproc
    # Values first, so a bad flag is named even on a machine without GPUs.
    validate_config(ScenarioConfig(mode=modes[0].name, backend=args.backend, collective=args.collective,
                                   late_s=args.late_s, late_rank=args.late_rank), max(nproc or 2, 2))
    if not under_torchrun():
        if args.backend == "nccl":
            n = _gpu_count()
            if n < 2:
                return fail(f"nccl: found {n} CUDA GPU(s) and --backend nccl needs at least 2; "
                            "for a CPU dry run of the same orchestration use --backend gloo", EXIT_USAGE)
            if nproc is not None and not 2 <= nproc <= n:
                raise invalid("--nproc", nproc, f"an integer in [2, {n}] (one process per GPU)")
            nproc = nproc or n
        else:
            if nproc is not None and not 2 <= nproc <= MAX_GLOO_NPROC:
                raise invalid("--nproc", nproc, f"an integer in [2, {MAX_GLOO_NPROC}]")
            nproc = nproc or 2
    quiet = args.quiet or (under_torchrun() and os.environ.get("RANK") != "0")  # rank 0 speaks for the job
    out = args.out or default_results_path()
    with steps(len(modes), quiet) as advance:
        advance(f"mode {modes[0].name}")
        names = [m.name for m in modes]

        def on_mode(name: str, _recs: list[dict[str, Any]]) -> None:
            i = names.index(name)
            if i + 1 < len(names):
                advance(f"mode {names[i + 1]}")

        records = run(names, out=out, nproc=nproc, backend=args.backend, collective=args.collective,
                      late_s=args.late_s, late_rank=args.late_rank, argv=sys.argv, on_mode=on_mode)
    if records is None:  # a torchrun rank other than 0: rank 0 writes and prints
        return EXIT_OK
    if args.json:
        print(json.dumps(records))
    else:
        table, notes = _table(records)
        # Wider than 80 columns: cut cells would hide the numbers; a narrow terminal wraps lines instead.
        Console(highlight=False, width=max(out_console.width, TABLE_WIDTH)).print(table)
        for note in notes:
            out_console.print(note, markup=False, soft_wrap=True)
    if not quiet:
        err_console.print(f"wrote {len(records)} records to {out}", markup=False)
    return EXIT_FAILURE if any(r["status"] == "error" for r in records) else EXIT_OK


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _table(records: list[dict[str, Any]]) -> tuple[Table, list[str]]:
    """The per-rank table, and the notes (skips, errors) that would not fit in a cell."""
    first = records[0]
    table = Table(title=f"waitbench nccl: {first['collective']}, rank {first['late_rank']} arrives "
                  f"{first['late_s']:g} s late", box=box.SIMPLE_HEAD, padding=(0, 1))
    for col in ("mode", "rank", "status", "wait s", "blocked s", "done us", "NVML%", "SM%", "FMA x", "W", "CPU%"):
        table.add_column(col, no_wrap=True, justify="left" if col in ("mode", "rank", "status") else "right")
    notes: list[str] = []
    for r in records:
        detail = r["status_detail"]
        if r["status"] == "skipped":
            if r["rank"] == 0:
                notes.append(f"{r['strategy']}: skipped: {detail}")
            continue
        if detail:
            notes.append(f"{r['strategy']} rank {r['rank']}: {r['status']}: {detail}")
        rank = f"{r['rank']} late" if r["role"] == "late" else str(r["rank"])
        table.add_row(
            r["strategy"], rank, r["status"], _fmt(r["wait_s"], ".3f"), _fmt(r["host_blocked_s"], ".3f"),
            _fmt(r["completion_after_late_us"], ".0f"), _fmt(r["nvml_util_pct"], ".0f"),
            _fmt(r["gpm_sm_util_pct"], ".1f"), _fmt(r["tput_ratio"], ".3f"), _fmt(r["power_w"], ".0f"),
            _fmt(r["host_cpu_pct"], ".1f"))
    return table, notes
