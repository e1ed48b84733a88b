# SPDX-License-Identifier: Apache-2.0
"""``waitbench sweep``: the launch-shape sweep of `spin` — what each resident shape costs concurrent work."""

from __future__ import annotations

import argparse

from .. import checks
from ..errors import invalid
from ..runner import SWEEP_MAX_S, Session, Settings
from ..strategies import get
from ..sweep import DEFAULT_THREADS, STRATEGY, check_not_axes, choices, default, default_blocks, points
from .common import add_measure_flags, parse_options, split_list
from .measuring import check_common, require_gpu_or_explain, session, show

SECONDS_MIN, SECONDS_MAX = 0.05, 600.0
DEFAULT_WORKLOADS = ("fma", "stream")
# The axes given by name on the command line: flag -> option of the strategy table.
AXIS_FLAGS = {"--flags": "flag", "--polls": "poll", "--flag-lines": "flag_lines"}


def _ints(text: str, argument: str) -> list[int]:
    items = split_list(text, argument)
    if not all(x.isascii() and x.lstrip("-").isdigit() for x in items):
        raise invalid(argument, text, "comma-separated integers")
    return [int(x) for x in items]


def _axis_help(flag: str, what: str) -> str:
    return f"{what}: {', '.join(choices(AXIS_FLAGS[flag]))} (default: %(default)s)"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the sweep subcommand to the CLI."""
    p = sub.add_parser("sweep", help="launch-shape sweep of `spin`: concurrent throughput left per blocks x threads")
    p.add_argument("--blocks", metavar="LIST", help="waiter blocks (default: 1, 2, 4, ... and the SM count)")
    p.add_argument("--threads", default=",".join(map(str, DEFAULT_THREADS)), metavar="LIST",
                   help="threads per block (default: %(default)s)")
    p.add_argument("--flags", default=default("flag"), metavar="LIST", help=_axis_help("--flags", "flag locations"))
    p.add_argument("--flag-lines", default=default("flag_lines"), metavar="LIST",
                   help=_axis_help("--flag-lines", "flag lines"))
    p.add_argument("--polls", default=default("poll"), metavar="LIST", help=_axis_help("--polls", "poll loads"))
    p.add_argument("--seconds", type=float, default=SWEEP_MAX_S, metavar="S",
                   help=f"time cap per point, {SECONDS_MIN:g}..{SECONDS_MAX:g} (default: %(default)s)")
    add_measure_flags(p, DEFAULT_WORKLOADS, f"Any option of {STRATEGY} but the axes above, the same at every point "
                      "(e.g. -o registers=96 -o pollers=32).")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Check every point against the table, then measure them in one session and print the table."""
    checks.number("--seconds", args.seconds, SECONDS_MIN, SECONDS_MAX)
    threads = _ints(args.threads, "--threads")
    axes = {flag: split_list(getattr(args, flag[2:].replace("-", "_")), flag, choices(option))
            for flag, option in AXIS_FLAGS.items()}
    spec = get(STRATEGY)
    given = parse_options(args.options, [o.name for o in spec.options])
    check_not_axes(list(given), "-o")
    fixed = {k: spec.option(k).parse(v) for k, v in given.items()}
    flags, polls, lines = axes["--flags"], axes["--polls"], axes["--flag-lines"]
    blocks = _ints(args.blocks, "--blocks") if args.blocks is not None else None
    points(blocks or [1], threads, flags, polls, lines, fixed)  # validate options before touching the GPU
    workloads, path = check_common(args)
    require_gpu_or_explain(args)
    from .._native import native
    from ..sweep import run_sweep

    if blocks is None:
        blocks = default_blocks(native().device_info(args.cuda_index)["sm_count"])
    n_points = len(points(blocks, threads, flags, polls, lines, fixed))
    with session(args, workloads, Settings.sweep(args.seconds), Session.steps(len(workloads), sweep_points=n_points),
                 path) as (s, _):
        run_sweep(s, blocks, threads, flags, polls, lines, fixed)
    show(s.records, args, ("sweep",))
    return 0
