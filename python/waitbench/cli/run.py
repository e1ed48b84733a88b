# SPDX-License-Identifier: Apache-2.0
"""``waitbench run``: the quick suite — every single-GPU strategy beside every workload, one table."""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

from .. import checks
from ..errors import invalid
from ..runner import Session, Settings
from ..strategies import FLAG, Strategy, get, resolve, strategies
from ..wake import MAX_TRIALS
from ..workloads import BUILTIN
from .common import UsageError, add_measure_flags, parse_options, split_list
from .measuring import check_common, require_gpu_or_explain, session, show

# Options with a list flag of their own (each value is a case of its own): not given through -o.
LIST_FLAGS = {"preset": "--presets", "flag": "--flags"}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the run subcommand to the CLI."""
    names = [s.name for s in strategies() if s.source == "builtin"]  # plugins run when named
    p = sub.add_parser("run", help="quick suite: every wait strategy side by side (reported vs real "
                       "utilization, concurrent throughput, wake-up latency, power, host CPU)")
    p.add_argument("--strategies", default=",".join(names), metavar="LIST",
                   help="comma-separated strategies (default: every built-in one; see `waitbench strategies`)")
    p.add_argument("--presets", metavar="LIST", help="nccl-shaped presets to measure, comma-separated (default: its "
                   "default preset; see `waitbench strategies`)")
    p.add_argument("--flags", metavar="LIST", help=f"flag locations ({', '.join(FLAG.choices or ())}) for strategies "
                   f"that have one, comma-separated (default: {FLAG.default})")
    p.add_argument("--thorough", action="store_true",
                   help="longer windows, 10^4 wake-up trials and a 0.5%% spread target (default: quick settings)")
    p.add_argument("--trials", type=int, metavar="N", help=f"wake-up trials per strategy, 1..{MAX_TRIALS:,} "
                   f"(default: {Settings.quick().wake_trials} quick, {Settings().wake_trials} thorough)")
    add_measure_flags(p, BUILTIN, "Each strategy of --strategies that has KEY takes it (e.g. -o timeout_s=30 -o "
                      "blocks=4); preset and flag have --presets and --flags.")
    p.set_defaults(handler=handle)


def _applies(flag: str, values: str | None, names: list[str], takes: Callable[[Strategy], bool]) -> None:
    """A value given for strategies none of which takes it is an error, not ignored."""
    if values is None or any(takes(get(n)) for n in names):
        return
    which = [s.name for s in strategies() if takes(s)]
    raise invalid(flag, values, f"a value for strategies that take it ({', '.join(which) or 'none does'}); none of "
                  f"--strategies {','.join(names)} does")


def _options(args: argparse.Namespace, names: list[str]) -> dict[str, str]:
    """The -o options, each taken by at least one of the strategies, none with a list flag of its own."""
    given = parse_options(args.options, sorted({o.name for s in strategies() for o in s.options}))
    for key, value in given.items():
        if key in LIST_FLAGS:
            raise UsageError(f"-o {key}={value}: give {key} with {LIST_FLAGS[key]} (each value is measured)")
        _applies("-o", f"{key}={value}", names, lambda s, k=key: any(o.name == k for o in s.options))
    return given


def cases(args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    """(strategy, options) pairs: each strategy, times its presets and flag locations where it has them.

    Each case also gets the -o options its strategy has.
    """
    names = split_list(args.strategies, "--strategies", tuple(s.name for s in strategies()))
    _applies("--presets", args.presets, names, lambda s: bool(s.presets))
    _applies("--flags", args.flags, names, lambda s: any(o.name == "flag" for o in s.options))
    given = _options(args, names)
    out: list[tuple[str, dict[str, Any]]] = []
    for name in names:
        spec = get(name)
        has = {o.name for o in spec.options}
        fixed = {k: spec.option(k).parse(v) for k, v in given.items() if k in has}
        presets = split_list(args.presets, "--presets", tuple(spec.presets)) \
            if args.presets is not None and spec.presets else [None]
        flags = split_list(args.flags, "--flags", spec.option("flag").choices or ()) \
            if args.flags is not None and "flag" in has else [None]
        for preset, flag in itertools.product(presets, flags):
            opts = {**fixed, **{k: v for k, v in (("preset", preset), ("flag", flag)) if v is not None}}
            resolve(name, **opts)  # validate before touching the GPU
            out.append((name, opts))
    return out


def handle(args: argparse.Namespace) -> int:
    """Measure every case in one session and print the table."""
    todo = cases(args)
    settings = Settings() if args.thorough else Settings.quick()
    if args.trials is not None:
        settings = dataclasses.replace(settings, wake_trials=checks.count("--trials", args.trials, 1, MAX_TRIALS))
    workloads, path = check_common(args)
    require_gpu_or_explain(args)
    with session(args, workloads, settings, Session.steps(len(workloads), strategies=len(todo)), path) as (s, _):
        for name, opts in todo:
            s.measure(name, **opts)
    show(s.records, args, ("strategies",))
    return 0
