# SPDX-License-Identifier: Apache-2.0
"""``waitbench profiler``: who waited on whom in a real NCCL job, from NCCL's own profiler events.

``env`` prints the variables that load waitbench's profiler plugin into any NCCL program (no code change);
``collect`` keeps a job's rings in a recording; ``report`` replays rings or recordings on any machine: who
waited on whom, for how long, and the tables behind it.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from ..inert import inert
from .common import add_output_flags, err_console, fail, out_console, output_format
from .report import table_console


def register(subparsers: Any) -> None:
    """Add the profiler subcommand and its own subcommands to the CLI."""
    from ..profiler.library import DEFAULT_DIR, DEFAULT_ENTRIES, MAX_ENTRIES, MIN_ENTRIES
    from ..report.render import FORMATS

    p = subparsers.add_parser(
        "profiler", help="who waited on whom in a real NCCL job (NCCL profiler plugin; no GPU needed to report)",
        description="Record every collective of a real NCCL job with waitbench's NCCL profiler plugin (loaded through "
                    "NCCL_PROFILER_PLUGIN: no code change), then tell which rank was late and what it cost the others.")
    sub = p.add_subparsers(dest="profiler_command", metavar="ACTION")
    env = sub.add_parser("env", help="print the environment that loads the plugin into NCCL programs",
                         description="Print KEY=VALUE lines; run a job under them, e.g. env $(waitbench profiler env) "
                                     "torchrun ...")
    env.add_argument("--job", help="job id in the rings' names (default: a new one from the time)")
    env.add_argument("--dir", default=DEFAULT_DIR, help="folder of the rings, on every host (default: %(default)s)")
    env.add_argument("--entries", type=int, default=DEFAULT_ENTRIES,
                     help=f"collectives each process's ring keeps, {MIN_ENTRIES} .. {MAX_ENTRIES} "
                          "(default: %(default)s)")
    env.add_argument("--host-only", action="store_true",
                     help="no per-channel GPU times (less overhead; no waits, only host enqueue times)")
    env.add_argument("--export", action="store_true", help="print shell `export` lines (for eval)")
    env.set_defaults(handler=handle_env)
    for name, helptext in (("report", "who waited on whom, from rings or recordings (any machine)"),
                           ("collect", "copy a job's rings into a recording file (JSON Lines)")):
        s = sub.add_parser(name, help=helptext, description=helptext[0].upper() + helptext[1:] + ".")
        s.add_argument("sources", nargs="*", metavar="SOURCE",
                       help="ring files, folders of rings, or recordings (default: --dir)")
        s.add_argument("--dir", default=DEFAULT_DIR, help="folder of rings read without SOURCE (default: %(default)s)")
        s.add_argument("--job", help="only rings of this job id")
        if name == "report":
            s.add_argument("--top", type=int, default=10, help="sentences and slowest collectives shown, 1 .. 1000")
            s.add_argument("--format", choices=FORMATS, default=None, help="output format (default: table)")
            add_output_flags(s)
            s.set_defaults(handler=handle_report)
        else:
            s.add_argument("--out", required=True, metavar="FILE", help="recording to append to")
            s.set_defaults(handler=handle_collect)
    p.set_defaults(handler=lambda args: fail("profiler: choose an action: env, report or collect"))


def handle_env(args: argparse.Namespace) -> int:
    """Print the plugin's environment, one variable a line."""
    from ..profiler.library import env_vars, new_job_id

    env = env_vars(args.job if args.job is not None else new_job_id(), args.dir, args.entries,
                   kernel_times=not args.host_only)
    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}" if args.export else f"{key}={value}")
    return 0


def _snapshots(args: argparse.Namespace) -> list[Any]:
    from ..profiler.recording import load_sources

    return load_sources(args.sources or [args.dir], job=args.job)


def handle_collect(args: argparse.Namespace) -> int:
    """Write the rings into a recording."""
    from ..profiler.recording import write_recording

    rings = _snapshots(args)
    n = write_recording(args.out, rings)
    err_console.print(inert(f"{len(rings)} ring(s), {n} collectives written to {args.out}"), markup=False)
    return 0


def handle_report(args: argparse.Namespace) -> int:
    """Sentences, notes and tables of the rings' wait accounting."""
    from .. import checks
    from ..profiler.accounting import account
    from ..profiler.render import clock_free_sentences, ring_notes, tables, wait_sentences
    from ..report.render import print_rich, render_text

    top = checks.count("top", args.top, 1, 1000)
    fmt = output_format(args)
    rings = _snapshots(args)
    acc = account(r for ring in rings for r in ring.records)
    lines = wait_sentences(acc, top) + clock_free_sentences(acc)
    notes = ring_notes(rings) + acc.notes
    if fmt != "table":
        out_console.file.write(render_text(tables(acc, top), fmt, sentences=lines, notes=notes)
                               if fmt == "json" else render_text(tables(acc, top), fmt))
        return 0
    con = table_console()
    if not lines:
        lines = [("no collective seen by two ranks with a shared clock, and none by two ranks at all: nothing to "
                  "compare (one rank per host? event mask without KernelCh?)")]
    for text in lines:
        con.print(inert(text), markup=False, soft_wrap=True)
    if not args.quiet:
        for text in notes:
            err_console.print(inert(f"note: {text}"), markup=False, soft_wrap=True)
    con.print()
    print_rich(tables(acc, top), con)
    return 0
