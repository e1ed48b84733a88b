# SPDX-License-Identifier: Apache-2.0
"""``waitbench dispatch``: what each fix costs per request, rank 0 -> every rank of a TP group.

Every argument is checked before any process starts (one line, exit 2). Records are appended as each
mode finishes; Ctrl-C aborts the running mode, writes what its ranks measured (status 'aborted') and
ends every rank.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..errors import invalid
from .common import EXIT_OK, add_output_flags, err_console, out_console, parse_options, split_list
from .measuring import output_path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the dispatch subcommand to the CLI."""
    from ..dispatch.arrivals import PATTERNS
    from ..dispatch.harness import Settings
    from ..dispatch.modes import MODES
    from ..report.render import FORMATS

    modes = "\n".join(f"  {m.name:<18} {m.doc} [{m.source}]" for m in MODES.values())
    d = Settings()
    p = sub.add_parser(
        "dispatch", help="request dispatch to a tensor-parallel group: latency per mode beside its idle cost",
        description="Rank 0 of N rank processes receives requests and hands each to every rank through each "
                    "mode; each rank starts a forward kernel that stamps %globaltimer. Reports arrival -> host "
                    "receive and -> kernel start per rank and for the last rank, idle host CPU and GPU cost, and "
                    "the highest rate each mode sustains. Without a GPU: host receive only.",
        epilog=f"modes:\n{modes}", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", default="2", metavar="N,M", help="rank counts, comma-separated (default: 2)")
    p.add_argument("--modes", default="all", metavar="A,B", help="comma-separated modes, or 'all' (default)")
    p.add_argument("--requests", type=int, default=d.requests, help="measured requests (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=d.warmup, help="warm-up requests (default: %(default)s)")
    p.add_argument("--pattern", choices=PATTERNS, default=d.pattern, help="arrivals (default: %(default)s)")
    p.add_argument("--rate", type=float, default=d.rate_hz, metavar="HZ", help="mean requests/s (default: %(default)s)")
    p.add_argument("--burst-size", type=int, default=d.burst_size, help="requests per burst (default: %(default)s)")
    p.add_argument("--max-rate-requests", type=int, default=d.max_rate_requests, metavar="N",
                   help="closed-loop requests for the max sustained rate, 0 to skip (default: %(default)s)")
    p.add_argument("--idle-s", type=float, default=d.idle_s, help="idle window, seconds (default: %(default)s)")
    p.add_argument("--timeout-s", type=float, default=d.timeout_s, help="deadline of every wait (default: %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="arrival generator seed (default: %(default)s)")
    p.add_argument("--gpus", type=int, default=None, metavar="G",
                   help="GPUs to use (rank r on GPU r %% G); default: every visible GPU, 0 without one")
    p.add_argument("--work-us", type=float, default=d.work_us, help="forward kernel length, us (default: %(default)s)")
    p.add_argument("-o", "--option", action="append", default=[], dest="options", metavar="KEY=VALUE",
                   help="a mode option (spin_us, sleep_us, wait_cycles), set on every mode that has it; repeatable")
    p.add_argument("--machine", default=None, metavar="LABEL", help="label of this machine in the records")
    p.add_argument("--chart", default=None, metavar="PNG", help="also write the Pareto chart (needs matplotlib)")
    p.add_argument("--out", metavar="FILE", help="JSON Lines file to append to (default: results/<timestamp>.jsonl)")
    p.add_argument("--format", choices=FORMATS, default="table", help="how the table is printed (default: table)")
    add_output_flags(p)
    p.set_defaults(handler=handle)


def _plan(args: argparse.Namespace) -> tuple[list[Any], list[Any]]:
    """(settings per rank count, [(mode, options)]) from the arguments; ValueError naming a bad one."""
    from ..dispatch.harness import Settings
    from ..dispatch.modes import parse_modes, resolve_options

    ranks = [int(x) if x.isdigit() else x for x in split_list(args.ranks, "--ranks")]
    modes = parse_modes(args.modes)
    names = sorted({o.name for m in modes for o in m.options})
    given = parse_options(args.options, names) if args.options or names else {}
    chosen = [(m, resolve_options(m, {k: v for k, v in given.items() if k in {o.name for o in m.options}}))
              for m in modes]
    if args.gpus is None:
        from .._native import gpu_unavailable_reason, native

        args.gpus = 0 if gpu_unavailable_reason() else int(native().device_count())
    settings = []
    for n in ranks:
        if not isinstance(n, int):
            raise invalid("--ranks", n, "rank counts: ints in [2, 256]")
        s = Settings(ranks=n, requests=args.requests, warmup=args.warmup, pattern=args.pattern, rate_hz=args.rate,
                     burst_size=args.burst_size, max_rate_requests=args.max_rate_requests, idle_s=args.idle_s,
                     timeout_s=args.timeout_s, seed=args.seed, gpus=args.gpus, work_us=args.work_us)
        s.check()
        settings.append(s)
    return settings, chosen


def handle(args: argparse.Namespace) -> int:
    """Run ``waitbench dispatch``."""
    from .. import results
    from .._native import host
    from ..dispatch.records import dispatch_record
    from ..dispatch.suite import run_modes
    from ..machine import host_identity

    settings, chosen = _plan(args)
    if args.chart is not None:
        import matplotlib  # noqa: F401 - missing: one line and exit 2, before any process starts
    path = output_path(args)
    say = (lambda _m: None) if args.quiet else (lambda m: err_console.print(m, markup=False, highlight=False))
    identity, cpu = host_identity(), host().cpu_model()
    machine = args.machine or f"cpu-{os.cpu_count()}core"
    sampler, idle_w, no_tel = None, None, "no CUDA GPU: host receive only, no forward kernel"
    if args.gpus:
        sampler, idle_w, no_tel = _telemetry(args.gpus)
    made: list[dict[str, Any]] = []
    try:
        with results.ResultsWriter(path, argument="--out") as writer:
            for s in settings:
                for res in run_modes(chosen, s, sampler=sampler, say=say):
                    rec = dispatch_record(res, identity, cpu_model=cpu, machine=machine, no_telemetry=no_tel,
                                          idle_power_w=idle_w)
                    writer.write(rec)
                    made.append(rec)
    finally:
        if sampler is not None:
            sampler.stop()
        _show(made, args)
    say(f"records appended to {path}")
    return EXIT_OK


def _telemetry(gpus: int) -> tuple[Any, float | None, str]:
    """A started sampler of the GPUs in use and their warm-idle power, or (None, None, why not)."""
    import time

    try:
        from ..telemetry import Sampler

        sampler = Sampler(gpus=list(range(gpus)))
        sampler.start()
        sampler.begin()
        time.sleep(2.0)
        base = sampler.end()
    except Exception as exc:  # noqa: BLE001 - no NVML: the latencies are still measured
        return None, None, f"telemetry unavailable: {exc}"
    powers = [w.power_w for w in base.values() if w.power_w is not None]
    return sampler, (max(powers) if powers else None), "telemetry unavailable"


def _show(made: list[dict[str, Any]], args: argparse.Namespace) -> None:
    from ..report.dispatch import dispatch_table
    from ..report.render import print_rich, render_text

    if not made:
        return
    table = dispatch_table(made)
    fmt = "json" if args.json else args.format
    if fmt == "table":
        print_rich([table], out_console)
    else:
        out_console.print(render_text([table], fmt), markup=False, highlight=False, soft_wrap=True)
    if args.chart is not None:
        from ..report.dispatch_plot import pareto_figure

        pareto_figure(made, args.chart)
