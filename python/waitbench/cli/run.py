# SPDX-License-Identifier: Apache-2.0
"""``waitbench run``: the quick suite — every single-GPU strategy beside every workload, one table."""

from __future__ import annotations

import argparse
import itertools
from typing import Any, Callable

from .. import checks
from ..errors import invalid
from ..runner import Settings
from ..strategies import get, resolve, strategies
from ..wake import MAX_TRIALS
from .common import add_measure_flags, split_list
from .measuring import check_common, require_gpu_or_explain, session, show


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
    p.add_argument("--trials", type=int, metavar="N", help=f"wake-up trials per strategy, 1..{MAX_TRIALS:,} "
                   "(default: 2000 quick, 10000 thorough)")
    add_measure_flags(p, "gemm,fma,stream")
    p.set_defaults(handler=handle)


def _applies(flag: str, values: str | None, names: list[str], takes: Callable[[Any], bool]) -> None:
    """A --presets/--flags list given for strategies none of which takes it is an error, not ignored."""
    if values is None or any(takes(get(n)) for n in names):
        return
    which = [s.name for s in strategies() if takes(s)]
    raise invalid(flag, values, f"a value for strategies that take it ({', '.join(which)}); none of "
                  f"--strategies {','.join(names)} does")


def cases(args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    """(strategy, options) pairs: each strategy, times its presets and flag locations where it has them."""
    names = split_list(args.strategies, "--strategies", tuple(s.name for s in strategies()))
    _applies("--presets", args.presets, names, lambda s: bool(s.presets))
    _applies("--flags", args.flags, names, lambda s: any(o.name == "flag" for o in s.options))
    out: list[tuple[str, dict[str, Any]]] = []
    for name in names:
        spec = get(name)
        has = {o.name for o in spec.options}
        presets = split_list(args.presets, "--presets", tuple(spec.presets)) \
            if args.presets is not None and spec.presets else [None]
        flags = split_list(args.flags, "--flags", ("host", "device")) if args.flags is not None and "flag" in has \
            else [None]
        for preset, flag in itertools.product(presets, flags):
            opts = {k: v for k, v in (("preset", preset), ("flag", flag)) if v is not None}
            resolve(name, **opts)  # validate before touching the GPU
            out.append((name, opts))
    return out


def handle(args: argparse.Namespace) -> int:
    todo = cases(args)
    settings = Settings() if args.thorough else Settings.quick()
    if args.trials is not None:
        trials = checks.count("--trials", args.trials, 1, MAX_TRIALS)
        settings = Settings(settings.window_s, trials, settings.pairs)
    workloads, path = check_common(args)
    require_gpu_or_explain(args.gpu)
    total = 2 + len(todo) * (2 + len(workloads))
    with session(args, workloads, settings, total, path) as (s, _advance):
        for name, opts in todo:
            s.measure(name, **opts)
    show(s.records, args, ("strategies",))
    return 0
