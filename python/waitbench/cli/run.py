# SPDX-License-Identifier: Apache-2.0
"""``waitbench run``: the quick suite — every single-GPU strategy beside every workload, one table."""

from __future__ import annotations

import argparse

from ..runner import Settings
from ..strategies import strategies
from .common import add_measure_flags, split_list
from .measuring import require_gpu_or_explain, session, show, workloads_from


def register(sub: argparse._SubParsersAction) -> None:
    names = [s.name for s in strategies()]
    p = sub.add_parser("run", help="quick suite: every wait strategy side by side (reported vs real "
                       "utilization, concurrent throughput, wake-up latency, power, host CPU)")
    p.add_argument("--strategies", default=",".join(names), metavar="LIST",
                   help="comma-separated strategies (default: all, default options; see `waitbench strategies`)")
    p.add_argument("--thorough", action="store_true",
                   help="longer windows, 10^4 wake-up trials and a 0.5%% spread target (default: quick settings)")
    p.add_argument("--trials", type=int, metavar="N", help="wake-up trials per strategy (default: 2000 quick, "
                   "10000 thorough)")
    add_measure_flags(p, "gemm,fma,stream")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    names = split_list(args.strategies, "--strategies", tuple(s.name for s in strategies()))
    settings = Settings() if args.thorough else Settings.quick()
    if args.trials is not None:
        if args.trials < 1:
            raise ValueError(f"--trials={args.trials} is invalid: expected an int >= 1")
        settings = Settings(settings.window_s, args.trials, settings.pairs)
    workloads = workloads_from(args)
    require_gpu_or_explain(args.gpu)
    total = 2 + len(names) * (2 + len(workloads))
    with session(args, workloads, settings, total) as (s, _advance):
        for name in names:
            s.measure(name)
    show(s.records, args, ("strategies",))
    return 0
