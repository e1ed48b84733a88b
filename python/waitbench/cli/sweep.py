# SPDX-License-Identifier: Apache-2.0
"""``waitbench sweep``: the launch-shape sweep of `spin` — what each resident shape costs concurrent work."""

from __future__ import annotations

import argparse

from ..runner import Settings
from ..sweep import DEFAULT_THREADS, default_blocks, points
from ..throughput import PairPolicy
from .. import checks
from ..errors import invalid
from .common import add_measure_flags, split_list
from .measuring import check_common, require_gpu_or_explain, session, show


def _ints(text: str, argument: str) -> list[int]:
    items = split_list(text, argument)
    if not all(x.isascii() and x.lstrip("-").isdigit() for x in items):
        raise invalid(argument, text, "comma-separated integers")
    return [int(x) for x in items]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="launch-shape sweep of `spin`: concurrent throughput left per blocks x threads")
    p.add_argument("--blocks", metavar="LIST", help="waiter blocks (default: 1, 2, 4, ... and the SM count)")
    p.add_argument("--threads", default=",".join(map(str, DEFAULT_THREADS)), metavar="LIST",
                   help="threads per block (default: %(default)s)")
    p.add_argument("--flags", default="host", metavar="LIST", help="flag locations: host, device (default: host)")
    p.add_argument("--flag-lines", default="shared", metavar="LIST",
                   help="shared (one word for every poller), per-poller (each its own line) (default: shared)")
    p.add_argument("--polls", default="volatile", metavar="LIST",
                   help="poll loads: volatile (NCCL), acquire (default: volatile)")
    p.add_argument("--seconds", type=float, default=1.0, metavar="S",
                   help="time cap per point, 0.05..600 (default: %(default)s)")
    add_measure_flags(p, "fma,stream")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    checks.number("--seconds", args.seconds, 0.05, 600.0)
    threads = _ints(args.threads, "--threads")
    flags = split_list(args.flags, "--flags", ("host", "device"))
    polls = split_list(args.polls, "--polls", ("volatile", "acquire"))
    lines = split_list(args.flag_lines, "--flag-lines", ("shared", "per-poller"))
    blocks = _ints(args.blocks, "--blocks") if args.blocks is not None else None
    points(blocks or [1], threads, flags, polls, lines)  # validate options before touching the GPU
    workloads, path = check_common(args)
    require_gpu_or_explain(args.gpu)
    from .._native import native
    from ..sweep import run_sweep

    if blocks is None:
        blocks = default_blocks(native().device_info(args.gpu)["sm_count"])
    n_points = len(points(blocks, threads, flags, polls, lines))
    settings = Settings(window_s=1.0, wake_trials=0,
                        pairs=PairPolicy(min_pairs=3, min_s=0.1, max_s=args.seconds, spread_target_pct=1.0,
                                         run_s=0.02))
    with session(args, workloads, settings, 2 + n_points * len(workloads), path) as (s, _advance):
        run_sweep(s, blocks, threads, flags, polls, lines)
    show(s.records, args, ("sweep",))
    return 0
