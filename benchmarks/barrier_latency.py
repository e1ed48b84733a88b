#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# ruff: noqa: E402 - a start-up signal handler comes before the heavy imports
"""Wake-up latency of cross-process barriers: what the host-side fix costs between rank processes.

Usage: python benchmarks/barrier_latency.py OUT_DIR [--gpu] [--ranks 2,4,8] [--kinds K,...] [--spins 0,50,1000]
                                            [--rounds 2000] [--gap-us 200] [--idle-s 1] [--machine LABEL]

For every rank count and barrier kind, this process is the late rank and ranks - 1 spawned
processes wait: each round it waits until all of them are about to wait, lets --gap-us pass, stamps
the time and arrives last. Writes OUT_DIR/barrier.jsonl (strategy 'host-barrier', one record per
kind and rank count) and prints a table. Kinds: shm-futex (waitbench.HostBarrier, once per --spins
value: 0 sleeps at once, a spin shorter than the gap sleeps too, one longer than the gap shows the
spin path), mp-barrier (multiprocessing.Barrier, LMDeploy PR #2607), gloo-barrier
(torch.distributed.barrier on gloo) and store-barrier (TCPStore add + wait); the last two need torch
and are skipped, with a note, without it.

  CPU leg (default): no GPU needed; release latency, each rank's CPU while waiting and while idle.
  GPU leg (--gpu):   each rank also launches a one-warp kernel once released (waiting rank r on
                     GPU (r - 1) % GPUs) and stamps when it sees the kernel's ack; the parent reads NVML over the
                     idle round (should be 0%); host-block and nccl-shaped are measured in the same
                     run as references, so reports put them beside the barriers.
"""

from __future__ import annotations

import os
import signal


def _starting(signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM during the imports below: nothing is written yet; one line, no traceback."""
    os.write(2, f"{TOOL}: stopped while starting (signal {signum}); nothing written\n".encode())
    os._exit(128 + signum)


TOOL = "barrier_latency"
if __name__ == "__main__":  # not in a spawned rank, which imports this file as __mp_main__
    signal.signal(signal.SIGINT, _starting)  # until main() hands both to stop_on_sigterm()
    signal.signal(signal.SIGTERM, _starting)

import argparse
import importlib.util
import sys
import time
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from waitbench.barrier import DEFAULT_SPIN_US
from waitbench.barrierbench import KINDS, NEEDS_TORCH, PointSettings, point_record, run_group
from waitbench.barrierbench.lifeline import interrupted_exit, stop_on_sigterm
from waitbench.machine import host_identity, run_identity
from waitbench.results import ResultsWriter

REFERENCES = (("host-block", {}), ("nccl-shaped", {}))  # same-run rows: a thread wake, and NCCL's spin


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def _cases(kinds: list[str], spins: list[int]) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for kind in kinds:
        if kind == "shm-futex":
            out.extend(("shm-futex", {"spin_us": s}) for s in spins)
        else:
            out.append((kind, {}))
    return out


def _row(rec: dict[str, Any]) -> str:
    o = rec["options"] or {}
    label = rec["strategy"] if rec["strategy"] != "host-barrier" else o["kind"] + (
        f" spin={o['spin_us']}" if "spin_us" in o else "")
    ranks = o.get("ranks", "")

    def trio(prefix: str) -> str:
        vals = [rec[f"{prefix}_{q}_us"] for q in ("p50", "p99", "p999")]
        return "/".join("-" if v is None else f"{v:.1f}" for v in vals)

    def num(v: float | None, fmt: str = ".1f") -> str:
        return "-" if v is None else format(v, fmt)

    return (f"{label:22} {ranks!s:>5} {trio('wake_observe'):>24} {trio('wake_rtt'):>24} "
            f"{num(rec['wait_host_cpu_pct']):>7} {num(rec['host_cpu_pct'], '.2f'):>7} {num(rec['nvml_util_pct']):>6}")


def _measure(out: Path, ranks_list: list[int], cases: list[tuple[str, dict[str, Any]]], settings: PointSettings,
             sampler: Any, identity: dict[str, Any], machine: str, floor: float | None, no_telemetry: str,
             args: argparse.Namespace, run_id: str, records: list[dict[str, Any]], say: Any) -> bool:
    """Every point, written as it finishes (appended to ``records``); True if the GPU references failed."""
    failed = False
    with ResultsWriter(out) as writer:
        try:
            for ranks in ranks_list:
                with closing(run_group(ranks, cases, settings, sampler=sampler, progress=say)) as group:
                    for res in group:
                        rec = point_record(res, settings, identity, machine=machine, floor_rtt_p50_us=floor,
                                           no_telemetry=no_telemetry)
                        writer.write(rec)
                        records.append(rec)
        finally:
            if sampler is not None:
                sampler.stop()
        if args.gpu:
            from waitbench.runner import Session, Settings

            say("references: " + ", ".join(name for name, _ in REFERENCES))
            try:
                with Session(0, [], Settings(window_s=1.0, wake_trials=args.reference_trials), writer,
                             run_id=run_id) as session:
                    for name, opts in REFERENCES:
                        records.extend(session.measure(name, **opts))
            except Exception as exc:  # noqa: BLE001 - the barrier records are written; say what is missing
                print(f"barrier_latency: the same-run references failed: {exc}", file=sys.stderr)
                failed = True
    return failed


def main() -> int:
    """Run the CPU leg (or, with --gpu, the GPU leg) and write its records."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--gpu", action="store_true", help="the GPU leg: ack kernels, NVML, same-run references")
    ap.add_argument("--ranks", default="2,4,8", help="rank counts (processes, the late one included)")
    ap.add_argument("--kinds", default=",".join(KINDS), help="barrier kinds: " + ", ".join(KINDS))
    ap.add_argument("--spins", default=f"0,{DEFAULT_SPIN_US},1000", help="shm-futex spin_us values")
    ap.add_argument("--rounds", type=int, default=2000, help="timed rounds per point (after 100 warm-up)")
    ap.add_argument("--gap-us", type=float, default=200.0, help="all ranks waiting -> the late rank arrives")
    ap.add_argument("--idle-s", type=float, default=1.0, help="length of the idle round (CPU and NVML window)")
    ap.add_argument("--machine", default=None, help="label written into every record (default: the host name)")
    ap.add_argument("--reference-trials", type=int, default=2000, help="wake-up trials of each GPU-leg reference")
    args = ap.parse_args()
    try:
        kinds = [k for k in args.kinds.split(",") if k]
        bad = [k for k in kinds if k not in KINDS]
        if bad:
            raise ValueError(f"--kinds={','.join(bad)!r} is invalid: expected kinds from {', '.join(KINDS)}")
        ranks_list, spins = _ints(args.ranks), _ints(args.spins)
    except ValueError as exc:
        print(f"barrier_latency: {exc}", file=sys.stderr)
        return 2
    run_id = uuid.uuid4().hex[:12]
    machine = args.machine or os.uname().nodename
    gpus, floor, sampler, no_telemetry = 0, None, None, "CPU leg: no GPU telemetry"
    if args.gpu:
        from waitbench._native import require_gpu
        from waitbench.errors import NoGpuError
        from waitbench.telemetry import Sampler

        try:
            native = require_gpu(0)
        except NoGpuError as exc:
            print(f"barrier_latency: --gpu: {exc} (the CPU leg runs without --gpu)", file=sys.stderr)
            return 1
        gpus = native.device_count()
        identity = run_identity(0, run_id)
        floor = float(np.median(native.launch_floor(0, 500))) / 1e3
        try:
            sampler = Sampler(gpus=list(range(min(gpus, max(ranks_list) - 1))))
            sampler.start()
        except Exception as exc:  # noqa: BLE001 - telemetry is optional: its absence is a recorded reason
            sampler, no_telemetry = None, f"telemetry unavailable: {exc}"
            print(f"barrier_latency: {no_telemetry}", file=sys.stderr)
    else:
        identity = host_identity(run_id)
    # kinds this machine cannot run: said once the run can proceed (without a GPU, --gpu's line comes alone)
    if importlib.util.find_spec("torch") is None and any(k in NEEDS_TORCH for k in kinds):
        print(f"barrier_latency: torch is not installed: {', '.join(k for k in kinds if k in NEEDS_TORCH)} skipped",
              file=sys.stderr)
        kinds = [k for k in kinds if k not in NEEDS_TORCH]
    cases = _cases(kinds, spins)
    settings = PointSettings(rounds=args.rounds, gap_us=args.gap_us, idle_s=args.idle_s, gpus=gpus)
    out = args.out_dir / "barrier.jsonl"
    t0 = time.monotonic()
    records: list[dict[str, Any]] = []

    def say(msg: str) -> None:
        print(f"[{time.monotonic() - t0:6.1f} s] {msg}", file=sys.stderr, flush=True)

    stop_on_sigterm()
    try:
        failed = _measure(out, ranks_list, cases, settings, sampler, identity, machine, floor, no_telemetry, args,
                          run_id, records, say)
    except KeyboardInterrupt as exc:  # the ranks were released on the way out; the file holds what finished
        return interrupted_exit("barrier_latency", exc, f"{len(records)} records kept in {out}")
    say(f"wrote {len(records)} records to {out}")
    print(f"\nbarrier wake-up on {machine} ({os.cpu_count()} CPUs, {gpus} GPUs), {args.rounds} rounds per point, "
          f"gap {args.gap_us:g} us; latencies in us from the last arrival, p50/p99/p99.9")
    print(f"{'barrier':22} {'ranks':>5} {'release':>24} {'kernel ack':>24} {'cpu%':>7} {'idle%':>7} {'util%':>6}")
    for rec in records:
        print(_row(rec))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
