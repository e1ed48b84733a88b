# SPDX-License-Identifier: Apache-2.0
"""``waitbench diagnose``: say per GPU whether "busy" is work or waiting, who holds it, which rank is late."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import signal
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from typing import Any

from .. import checks
from .._native import cuda_missing_reason
from ..diagnose.live import DEFAULT_SECONDS, SECONDS_MAX, SECONDS_MIN
from ..errors import NoCudaBuildError, WaitbenchError, invalid
from ..telemetry.recording import RecordingWriter
from .common import EXIT_OK, UsageError, add_output_flags, err_console, out_console

HELP = "watch GPUs and say per GPU whether it is idle, busy, or busy-waiting (100% reported, nothing works)"
EPILOG = """\
Reads NVML utilization, GPM pipe/DRAM activity (Hopper and newer) and the energy counter over a
window, names the compute processes of every GPU that busy-waits (pid, name, command line, memory)
and the one holding the resident kernel where NVML can tell, and, across the GPUs of this host,
the GPU that looks like the late rank. --gpus takes nvidia-smi indices (NVML order, as
`nvidia-smi -i`), UUIDs or PCI bus ids.

--probe (opt-in) runs, after each window and announced on stderr first, a short bounded burst of a
calibrated FP32 FMA kernel on a concurrent stream of each GPU (under 0.9 s of GPU time and under
64 MB of device memory, in a child process) and compares it with the same probe on the idle GPU.
That baseline is measured once per GPU and driver, the first time the probe finds the GPU idle,
and cached in $XDG_CACHE_HOME/waitbench/probe-<uuid>-<driver>.json (default
~/.cache/waitbench/...); --probe-refresh re-measures it on the GPUs that are idle now (or delete
the file). A probe near full speed while utilization reads ~100% means the resident kernel waits;
one that cannot start means a resident kernel holds every SM. Without MPS the driver time-slices
processes, so a probe slowed beside another process's kernel cannot tell waiting from work.
--ignore-gpm judges as a GPU without GPM would (so the probe decides).

--watch redraws the table after every window until Ctrl-C. --record FILE appends every window
(raw series, processes, probe) as JSON Lines; --replay FILE shows a recording on any machine,
without a GPU. --serve [ADDR:]PORT serves the latest window as Prometheus metrics at /metrics
(waitbench_*, labelled as dcgm-exporter labels its series: gpu, UUID, pci_bus_id, device,
modelName, Hostname; a count of processes, never their names; 127.0.0.1 unless ADDR is given; an
ADDR that is not loopback, such as 0.0.0.0, also needs --serve-public; port 0 picks a free one;
needs `pip install 'waitbench[exporter]'`), live or from --replay; docs/DIAGNOSE.md has a scrape
config and alert rules, docs/DEPLOY.md a container, a DaemonSet, a systemd unit and a Grafana
dashboard.

Jobs run with waitbench's NCCL profiler plugin (`waitbench profiler env`) leave rings in /dev/shm
(--profiler-dir DIR elsewhere): each window reads what they gained and adds, per job, who waited
on whom ("rank 1 waited 2.31 s on rank 0 in Broadcast, 97% of its kernel time"), in the notes,
--json (nccl_waits), --record and --serve (waitbench_nccl_*); docs/PROFILER.md. Bad usage: one
line, exit 2. No GPU or no NVML: one line, exit 1.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the diagnose subcommand to the CLI."""
    p = subparsers.add_parser("diagnose", help=HELP.replace("%", "%%"), description=HELP, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gpus", default=None, metavar="LIST",
                   help="comma-separated nvidia-smi indices (NVML order, as nvidia-smi -i and run --gpu; not CUDA's "
                        "order), UUIDs or PCI bus ids (default: every GPU)")
    p.add_argument("--seconds", type=float, default=None, metavar="N",
                   help=f"length of each window in seconds, {SECONDS_MIN:g}..{SECONDS_MAX:g} "
                        f"(default: {DEFAULT_SECONDS:g})")
    p.add_argument("--probe", action="store_true",
                   help="after each window, time a short FMA burst on each GPU against its cached idle baseline")
    p.add_argument("--probe-refresh", action="store_true",
                   help="re-measure the probe's idle baseline of the GPUs idle now (implies --probe)")
    p.add_argument("--ignore-gpm", action="store_true", help="judge without GPM, as on a GPU that has none")
    p.add_argument("--watch", action="store_true", help="keep watching: redraw after every window until Ctrl-C")
    p.add_argument("--record", default=None, metavar="FILE", help="append every window to FILE (JSON Lines)")
    p.add_argument("--replay", default=None, metavar="FILE", help="show windows recorded with --record; needs no GPU")
    p.add_argument("--profiler-dir", default=None, metavar="DIR",
                   help="folder of the NCCL profiler plugin's rings, read every window (default: /dev/shm)")
    p.add_argument("--serve", default=None, metavar="[ADDR:]PORT",
                   help="serve Prometheus metrics at http://ADDR:PORT/metrics (ADDR default 127.0.0.1)")
    p.add_argument("--serve-public", action="store_true",
                   help="let --serve bind an address that is not loopback (e.g. 0.0.0.0): every host that can reach "
                        "this one can then read the metrics (per GPU: verdict, utilization, power, model, host name "
                        "and a count of compute processes; no pids, process names or command lines)")
    add_output_flags(p)
    p.set_defaults(handler=run)


def _validate(args: argparse.Namespace) -> None:
    """Every flag checked before NVML is touched: one line and exit 2 for any bad one."""
    if args.replay is not None:
        checks.path("--replay", args.replay)
        live = [flag for flag, on in (("--record", args.record is not None), ("--gpus", args.gpus is not None),
                                      ("--seconds", args.seconds is not None), ("--probe", args.probe),
                                      ("--probe-refresh", args.probe_refresh), ("--watch", args.watch),
                                      ("--profiler-dir", args.profiler_dir is not None)) if on]
        if live:
            raise UsageError(f"--replay shows a recording: it takes no {', '.join(live)}")
    if args.gpus is not None and not args.gpus.strip():  # an empty list is not "every GPU" (leave --gpus out)
        raise invalid("--gpus", args.gpus, "comma-separated nvidia-smi indices, UUIDs or PCI bus ids, or 'all'")
    if args.record is not None:
        RecordingWriter(args.record, argument="--record").close()  # checks the path; creates nothing
    if args.profiler_dir is not None and not os.path.isdir(checks.path("--profiler-dir", args.profiler_dir)):
        raise invalid("--profiler-dir", args.profiler_dir, "an existing folder (where the plugin writes its rings)")
    if args.seconds is not None:
        checks.number("--seconds", args.seconds, SECONDS_MIN, SECONDS_MAX,
                      valid=f"a number of seconds in [{SECONDS_MIN:g}, {SECONDS_MAX:g}]")
    if args.serve_public and args.serve is None:
        raise UsageError("--serve-public goes with --serve [ADDR:]PORT")
    if args.serve is not None:  # before a recording is read or NVML opened (a bind can still fail later)
        from ..diagnose.endpoint import bind_address

        bind_address(args.serve, argument="--serve", public=args.serve_public)


@contextlib.contextmanager
def _term_as_interrupt() -> Iterator[None]:
    """SIGTERM ends --watch/--serve as Ctrl-C does (NVML released, recording closed), e.g. in a container."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    """Diagnose once, watch, serve or replay, as the flags say; Ctrl-C ends watching and serving with 0."""
    from ..diagnose.replay import iter_refreshes

    _validate(args)
    refreshes = iter_refreshes(args.replay, ignore_gpm=args.ignore_gpm) if args.replay is not None else None
    keep_going = args.watch or args.serve is not None
    endpoint = store = None
    try:
        with _term_as_interrupt() if keep_going else contextlib.nullcontext():
            if args.serve is not None:
                from ..diagnose.exporter import MetricsStore, serve

                if refreshes is None:  # live: no endpoint is announced on a machine without NVML
                    from ..telemetry.nvml import unavailable_reason

                    reason = unavailable_reason()
                    if reason:
                        raise WaitbenchError(reason)

                store = MetricsStore()
                for ref in refreshes or []:  # a replay is in the store before the first scrape can come
                    store.update(ref)
                endpoint = serve(args.serve, store, argument="--serve", public=args.serve_public)
                err_console.print(f"serving metrics on {endpoint.url} (Ctrl-C stops)", markup=False, soft_wrap=True)
            return _replay(args, refreshes, store) if refreshes is not None else _live(args, store)
    except KeyboardInterrupt:
        if keep_going:
            return EXIT_OK  # the way to end watching and serving
        raise
    finally:
        if endpoint is not None:
            endpoint.close()


def _print_refresh(ref: Any, title: str) -> None:
    from ..diagnose.render import refresh_lines, render_table

    out_console.print(render_table(ref.rows, title=title))
    for line in refresh_lines(ref):
        out_console.print(line, markup=False, soft_wrap=True)


def _replay(args: argparse.Namespace, refreshes: Iterator[Any], store: Any) -> int:
    """Show a recording refresh by refresh as it is read (a JSON array streamed the same way)."""
    from ..diagnose.render import refresh_to_json

    if store is not None:
        while True:  # serve the recording until Ctrl-C / SIGTERM
            time.sleep(3600)
    if args.json:
        first = True
        for ref in refreshes:
            for row in refresh_to_json(ref):
                text = textwrap.indent(json.dumps(row, indent=2, default=str), "  ")
                sys.stdout.write(("[\n" if first else ",\n") + text)
                first = False
        sys.stdout.write("[]\n" if first else "\n]\n")
        return EXIT_OK
    previous, shown = None, 0
    for ref in refreshes:  # one refresh behind, so a recording of one refresh is titled without a number
        if previous is not None:
            _print_refresh(previous, f"waitbench diagnose (replay of {args.replay}, refresh {previous.index})")
            shown += 1
        previous = ref
    if previous is not None:
        suffix = f", refresh {previous.index}" if shown else ""
        _print_refresh(previous, f"waitbench diagnose (replay of {args.replay}{suffix})")
    return EXIT_OK


def _live(args: argparse.Namespace, store: Any) -> int:
    from ..diagnose.live import live_refreshes, parse_gpus
    from ..diagnose.probe.baseline import cache_dir
    from ..diagnose.probe.measure import PROBE_ALLOC_MAX_BYTES, PROBE_BUDGET_S
    from ..diagnose.render import refresh_to_json, render_refresh
    from ..profiler.library import DEFAULT_DIR

    seconds = DEFAULT_SECONDS if args.seconds is None else args.seconds
    specs = parse_gpus(args.gpus)
    if (args.probe or args.probe_refresh) and (missing := cuda_missing_reason()):
        raise NoCudaBuildError(f"--probe needs waitbench's CUDA module: {missing}")  # before any window
    keep_going = args.watch or args.serve is not None

    def on_start(devices: Sequence[Any]) -> None:
        if args.probe or args.probe_refresh:  # said before the first window, always: the probe puts work on GPUs
            err_console.print(f"after each window, probing every watched GPU: an FP32 FMA burst (< "
                              f"{PROBE_BUDGET_S:g} s of GPU time, < {PROBE_ALLOC_MAX_BYTES >> 20} MB) on a concurrent "
                              f"stream, in a child process; idle baselines in {cache_dir()}", markup=False,
                              soft_wrap=True)
        if not args.quiet:
            how = f"a window every {seconds:g} s until Ctrl-C" if keep_going else f"for {seconds:g} s"
            err_console.print(f"watching {len(devices)} GPU(s), {how} ...", markup=False)

    source = live_refreshes(specs, seconds, ignore_gpm=args.ignore_gpm, probe=args.probe,
                            probe_refresh=args.probe_refresh, record=args.record, on_start=on_start,
                            profiler_dir=args.profiler_dir or DEFAULT_DIR)
    title = f"waitbench diagnose ({seconds:g} s window)"
    if not keep_going:
        ref = next(source)
        source.close()
        if args.json:
            sys.stdout.write(json.dumps(refresh_to_json(ref), indent=2, default=str) + "\n")
        else:
            _print_refresh(ref, title)
        return EXIT_OK
    if args.watch and not args.json:
        from rich.live import Live

        first = next(source, None)  # a missing NVML ends the command here, before anything is drawn
        if first is None:
            return EXIT_OK
        with Live(console=out_console, auto_refresh=False) as live:
            for ref in itertools.chain([first], source):
                if store is not None:
                    store.update(ref)
                stamp = time.strftime("%H:%M:%S")
                live.update(render_refresh(ref, f"{title}, refresh {ref.index} at {stamp}; Ctrl-C stops"),
                            refresh=True)
        return EXIT_OK
    for ref in source:  # --serve alone, or --watch --json (one JSON line per window)
        if store is not None:
            store.update(ref)
        if args.watch:
            sys.stdout.write(json.dumps(refresh_to_json(ref), default=str) + "\n")
            sys.stdout.flush()
    return EXIT_OK
