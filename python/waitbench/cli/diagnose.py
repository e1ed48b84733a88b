# SPDX-License-Identifier: Apache-2.0
"""``waitbench diagnose``: watch GPUs for a few seconds and say whether "busy" is work or waiting."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from ..errors import invalid
from .common import EXIT_OK, UsageError, add_output_flags, err_console, out_console

HELP = "watch GPUs and say per GPU whether it is idle, busy, or busy-waiting (100% reported, nothing works)"
EPILOG = """\
Reads NVML utilization, GPM pipe/DRAM activity (Hopper and newer) and the energy counter over one
window. --gpus takes nvidia-smi indices (NVML order, as `nvidia-smi -i`), UUIDs or PCI bus ids.
--record FILE appends the window (with raw series) as JSON Lines; --replay FILE shows a recording
on any machine, without a GPU. No GPU or no NVML: one line on stderr, exit 1.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("diagnose", help=HELP, description=HELP, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gpus", default=None, metavar="LIST",
                   help="comma-separated nvidia-smi indices, UUIDs or PCI bus ids (default: every GPU)")
    p.add_argument("--seconds", type=float, default=None, metavar="N",
                   help="length of the watched window in seconds, 1..3600 (default: 3)")
    p.add_argument("--record", default=None, metavar="FILE", help="append the watched window(s) to FILE (JSON Lines)")
    p.add_argument("--replay", default=None, metavar="FILE", help="show windows recorded with --record; needs no GPU")
    add_output_flags(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..diagnose import DEFAULT_SECONDS, parse_gpus, render_notes, render_table, rows_to_json, verdict_rows, watch
    from ..telemetry.recording import read_windows

    if args.replay and (args.record or args.gpus or args.seconds is not None):
        raise UsageError("--replay shows a recording: it takes no --record, --gpus or --seconds")
    if args.record and not Path(args.record).resolve().parent.is_dir():
        raise UsageError(f"--record={args.record!r} is invalid: its directory does not exist")
    if args.replay:
        summaries = [s for s, _ in read_windows(args.replay)]
        title = f"waitbench diagnose (replay of {args.replay})"
    else:
        seconds = DEFAULT_SECONDS if args.seconds is None else args.seconds
        if not 1.0 <= seconds <= 3600.0:
            raise invalid("--seconds", seconds, "a number of seconds in [1, 3600]")
        specs = parse_gpus(args.gpus)

        def announce(devices: Sequence[Any]) -> None:
            if not args.quiet:
                err_console.print(f"watching {len(devices)} GPU(s) for {seconds:g} s ...", markup=False)

        summaries = watch(specs, seconds, record=args.record, on_start=announce)
        title = f"waitbench diagnose ({seconds:g} s window)"
    rows = verdict_rows(summaries)
    if args.json:
        sys.stdout.write(json.dumps(rows_to_json(rows), indent=2, default=str) + "\n")
        return EXIT_OK
    out_console.print(render_table(rows, title=title))
    for line in render_notes(rows):
        out_console.print(line, markup=False, soft_wrap=True)
    return EXIT_OK
