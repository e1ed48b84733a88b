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

from .._native import cuda_missing_reason
from ..errors import NoCudaBuildError, invalid
from ..nccl.config import CALLS, PROTOCOLS, WORKLOADS, ScenarioConfig, validate_config
from ..nccl.modes import BACKENDS, COLLECTIVES, MODES, parse_modes
from .common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    add_format_flag,
    add_output_flags,
    err_console,
    fail,
    out_console,
    output_format,
)
from .common import console as common_console  # the CLI's broken-pipe rule; `console` is a local name below
from .measuring import output_path
from .progress import steps

MAX_GLOO_NPROC = 64
TABLE_WIDTH = 132


def register(sub: argparse._SubParsersAction) -> None:
    """Add the nccl subcommand to the CLI."""
    modes = "\n".join(f"  {m.name:<20} {m.doc}" for m in MODES.values())
    p = sub.add_parser(
        "nccl", help="real collectives on >= 2 GPUs: one rank arrives late, each way of waiting side by side",
        description="Run a collective in which one rank arrives late, once per mode, and record what the "
                    "waiting GPUs report, what they really do, what concurrent work still gets, power, host "
                    "CPU and completion latency. Spawns one process per GPU, or runs as one rank under torchrun. "
                    "It takes no GPU index: rank r runs on the r-th GPU CUDA sees (LOCAL_RANK under torchrun), so "
                    "CUDA_VISIBLE_DEVICES picks and orders them; every record names its GPU by UUID (gpu_uuid), "
                    "which nvidia-smi -L and diagnose --gpus know (their indices are NVML's order, not CUDA's).",
        epilog=f"modes:\n{modes}", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nproc", type=int, default=None, metavar="N",
                   help="ranks to spawn (default: every GPU; 2 with --backend gloo); under torchrun its world size")
    p.add_argument("--modes", default="all", metavar="A,B", help="comma-separated modes, or 'all' (default)")
    p.add_argument("--collective", default="all_reduce", metavar="A,B",
                   help=f"comma-separated from {', '.join(COLLECTIVES)}, or 'all' (default: all_reduce)")
    p.add_argument("--numel", default="1", metavar="N,M",
                   help="float32 elements each rank contributes, comma-separated; suffixes Ki, Mi allowed "
                        "(default: 1, what an idle server's broadcast moves; 64Mi is a large message)")
    p.add_argument("--protocols", default="auto", metavar="P,Q",
                   help=f"NCCL_PROTO values, comma-separated from auto (NCCL's choice), {', '.join(PROTOCOLS)}, "
                        "or 'all' (default: auto); each gets a communicator of its own")
    p.add_argument("--workloads", default="fma,gemm", metavar="A,B",
                   help="concurrent workloads each waiting rank runs during the wait: fma, gemm, or none "
                        "(default: fma,gemm)")
    p.add_argument("--wake-trials", type=int, default=20, metavar="N",
                   help="short late-arrival episodes per cell for the wake-up latency, and as many aligned "
                        "ones (default: 20)")
    p.add_argument("--calls", default=None, metavar="A,B",
                   help=f"instead of the cells: make one common call per episode during the wait and say which "
                        f"return and which wait for the late rank; comma-separated from {', '.join(CALLS)}, or all")
    p.add_argument("--emulate", action="store_true",
                   help="afterwards, measure the emulated stand-in of each real wait on a waiting rank's GPU "
                        "and print reality beside emulation")
    p.add_argument("--late-s", type=float, default=3.0, metavar="D",
                   help="how late the late rank arrives, seconds (default: 3; telemetry needs >= ~2)")
    p.add_argument("--late-rank", type=int, default=0, metavar="R",
                   help="which rank arrives late; it is also the broadcast root (default: 0)")
    p.add_argument("--backend", choices=BACKENDS, default="nccl",
                   help="nccl (GPUs) or gloo (the same orchestration on CPUs, GPU metrics null)")
    p.add_argument("--record", metavar="FILE",
                   help="also append every telemetry window (waiting and late ranks, idle baselines) to this "
                        "recording, for diagnose --replay and the verdict's tests")
    p.add_argument("--out", metavar="FILE", help="JSON Lines file to append to (default: results/<timestamp>.jsonl)")
    add_format_flag(p, "format of the tables (default: table); --json prints the records instead")
    add_output_flags(p)
    p.set_defaults(handler=handle)


def _gpu_count() -> int:
    try:
        import torch

        return int(torch.cuda.device_count())
    except Exception:  # noqa: BLE001 - no driver, broken CUDA: no GPU to run on
        return 0


_SUFFIX = {"": 1, "ki": 1 << 10, "mi": 1 << 20, "gi": 1 << 30}


def _numels(text: str) -> tuple[int, ...]:
    out = []
    for item in (t.strip() for t in text.split(",")):
        digits = item.rstrip("KkMmGgIi")
        suffix = item[len(digits):].lower()
        if not digits.isascii() or not digits.isdigit() or suffix not in _SUFFIX:
            raise invalid("--numel", text, "comma-separated element counts such as 1,64Mi")
        out.append(int(digits) * _SUFFIX[suffix])
    return tuple(out)


def _list(text: str, argument: str, valid: tuple[str, ...], every: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if text.strip() == "all":
        return every or valid
    items = tuple(dict.fromkeys(t.strip() for t in text.split(",")))
    if not all(items) or any(i not in valid for i in items):
        raise invalid(argument, text, f"a comma-separated list of {', '.join(valid)}, or all")
    return items


def _config(args: argparse.Namespace, modes: list[Any]) -> ScenarioConfig:
    """The run's settings as the launcher will take them (validated here too, before anything starts)."""
    protocols = _list(args.protocols, "--protocols", ("auto", *PROTOCOLS), PROTOCOLS)
    workloads = () if args.workloads.strip() == "none" else _list(args.workloads, "--workloads", WORKLOADS)
    calls = () if args.calls is None else _list(args.calls, "--calls", CALLS)
    return ScenarioConfig(mode=modes[0].name, backend=args.backend,
                          collectives=_list(args.collective, "--collective", COLLECTIVES),
                          numels=_numels(args.numel), protocols=tuple(None if p == "auto" else p for p in protocols),
                          workloads=workloads, wake_trials=args.wake_trials, calls=calls, late_s=args.late_s,
                          late_rank=args.late_rank)


def handle(args: argparse.Namespace) -> int:
    """Run every mode (spawned ranks, or this rank of a torchrun job) and print their tables."""
    modes = parse_modes(args.modes)
    fmt = output_format(args)  # --json prints the records; --format, the tables in that format
    try:
        import torch  # noqa: F401
    except ImportError:
        return fail("nccl: needs torch: pip install 'waitbench[torch]'", EXIT_FAILURE)
    from ..nccl.launch import run, under_torchrun

    nproc = args.nproc
    cfg = _config(args, modes)
    # Values first, so a bad flag is named even on a machine without GPUs.
    validate_config(cfg, max(nproc or 2, 2))
    if not under_torchrun():
        if args.backend == "nccl":
            if missing := cuda_missing_reason():  # its workloads, calls and wake-up ack are kernels
                raise NoCudaBuildError(f"nccl --backend nccl needs waitbench's CUDA module: {missing}")
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
    out = output_path(args)
    with steps(len(modes) + int(args.emulate), quiet) as advance:
        advance(f"mode {modes[0].name}")
        names = [m.name for m in modes]

        def on_mode(name: str, _recs: list[dict[str, Any]]) -> None:
            i = names.index(name)
            if i + 1 < len(names):
                advance(f"mode {names[i + 1]}")
            elif args.emulate:
                advance("emulated stand-ins")

        records = run(names, out=out, nproc=nproc, backend=args.backend, collectives=cfg.collectives,
                      numels=cfg.numels, protocols=cfg.protocols, workloads=cfg.workloads,
                      wake_trials=cfg.wake_trials, calls=cfg.calls, late_s=args.late_s, late_rank=args.late_rank,
                      argv=sys.argv, record=args.record, emulate=args.emulate, on_mode=on_mode)
    if records is None:  # a torchrun rank other than 0: rank 0 writes and prints
        return EXIT_OK
    if args.json:
        print(json.dumps(records))
    else:
        show(records, fmt)
    if not quiet:
        err_console.print(f"wrote {len(records)} records to {out}", markup=False)
    return EXIT_FAILURE if any(r["status"] == "error" for r in records) else EXIT_OK


def show(records: list[dict[str, Any]], fmt: str = "table") -> None:
    """Print the run's tables (episodes, side calls, emulation beside reality), with their notes, in ``fmt``."""
    from ..nccl.tables import calls_table, emulation_table, episode_table
    from ..report.render import print_rich, render_text

    tables = [t for t in (make(records) for make in (episode_table, calls_table, emulation_table)) if t is not None]
    if fmt == "table":
        # Wider than 80 columns: cut cells would hide the numbers; a narrow terminal wraps lines instead.
        print_rich(tables, common_console(width=max(out_console.width, TABLE_WIDTH)))
    else:
        sys.stdout.write(render_text(tables, fmt))
