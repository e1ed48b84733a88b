# SPDX-License-Identifier: Apache-2.0
"""``waitbench run``: the quick suite — every single-GPU strategy beside every workload, one table."""

from __future__ import annotations

import argparse
import itertools
from typing import Any

from ..runner import Settings
from ..strategies import resolve, strategies
from .common import add_measure_flags, split_list
from .measuring import require_gpu_or_explain, session, show, workloads_from


def register(sub: argparse._SubParsersAction) -> None:
    names = [s.name for s in strategies() if s.source == "builtin"]  # plugins run when named
    p = sub.add_parser("run", help="quick suite: every wait strategy side by side (reported vs real "
                       "utilization, concurrent throughput, wake-up latency, power, host CPU)")
    p.add_argument("--strategies", default=",".join(names), metavar="LIST",
                   help="comma-separated strategies (default: every built-in one; see `waitbench strategies`)")
    p.add_argument("--presets", metavar="LIST", help="nccl-shaped presets to measure, comma-separated (default: its "
                   "default preset; see `waitbench strategies`)")
    p.add_argument("--flags", metavar="LIST", help="flag locations (host, device) for strategies that have one "
                   "(default: host)")
    p.add_argument("--thorough", action="store_true",
                   help="longer windows, 10^4 wake-up trials and a 0.5%% spread target (default: quick settings)")
    p.add_argument("--trials", type=int, metavar="N", help="wake-up trials per strategy (default: 2000 quick, "
                   "10000 thorough)")
    add_measure_flags(p, "gemm,fma,stream")
    p.set_defaults(handler=handle)


def cases(args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    """(strategy, options) pairs: each strategy, times its presets and flag locations where it has them."""
    from ..strategies import get

    names = split_list(args.strategies, "--strategies", tuple(s.name for s in strategies()))
    out: list[tuple[str, dict[str, Any]]] = []
    for name in names:
        spec = get(name)
        has = {o.name for o in spec.options}
        presets = split_list(args.presets, "--presets", tuple(spec.presets)) if args.presets and spec.presets else [None]
        flags = split_list(args.flags, "--flags", ("host", "device")) if args.flags and "flag" in has else [None]
        for preset, flag in itertools.product(presets, flags):
            opts = {k: v for k, v in (("preset", preset), ("flag", flag)) if v is not None}
            resolve(name, **opts)  # validate before touching the GPU
            out.append((name, opts))
    return out


def handle(args: argparse.Namespace) -> int:
    todo = cases(args)
    settings = Settings() if args.thorough else Settings.quick()
    if args.trials is not None:
        if args.trials < 1:
            raise ValueError(f"--trials={args.trials} is invalid: expected an int >= 1")
        settings = Settings(settings.window_s, args.trials, settings.pairs)
    workloads = workloads_from(args)
    require_gpu_or_explain(args.gpu)
    total = 2 + len(todo) * (2 + len(workloads))
    with session(args, workloads, settings, total) as (s, _advance):
        for name, opts in todo:
            s.measure(name, **opts)
    show(s.records, args, ("strategies",))
    return 0
