# SPDX-License-Identifier: Apache-2.0
"""What waitbench's NCCL profiler plugin costs a real NCCL job: latency and bandwidth with and without it.

Run on a GPU machine (after building waitbench there)::

    python3 benchmarks/profiler_overhead.py benchmarks/results/<gpu>/profiler_overhead.json [--ranks 2] [--rounds 6]

Each round starts two fresh NCCL jobs of ``--ranks`` ranks (one GPU each) through torch.distributed, one plain
and one under ``waitbench profiler env`` (the order alternates between rounds, as drift then cancels), and
times on rank 0 of each:
1. the latency of an 8-byte all_reduce: ``--iters`` calls, each synchronised, median per job;
2. the bus bandwidth of a 256 MiB all_reduce (algbw * 2(n-1)/n, as nccl-tests), median per job.
It prints per mode the median over rounds and the spread (min .. max), the plugin's cost in percent, and
checks the plugin's rings: one complete record per collective and rank, every channel seen.

It needs two GPUs: NCCL runs a 1-rank collective as a local copy without planning it (ncclLaunchOneRank in
src/enqueue.cc), so a 1-rank job sends the plugin no event at all and would measure nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SMALL_BYTES = 8
LARGE_BYTES = 256 << 20
WARMUP = 20


def rank_main(rank: int, world: int, iters: int, store: str, out: str) -> None:
    """One rank of the job: time the two all_reduces; rank 0 writes the samples to ``out``."""
    import ctypes
    import signal

    import torch
    import torch.distributed as dist

    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: a rank dies with its job's process
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", init_method=f"file://{store}", rank=rank, world_size=world,
                            device_id=torch.device("cuda", rank))
    try:
        result: dict[str, Any] = {}
        for name, nbytes in (("small", SMALL_BYTES), ("large", LARGE_BYTES)):
            x = torch.ones(nbytes // 4, dtype=torch.float32, device="cuda")
            for _ in range(WARMUP):  # NCCL's first calls set up channels and buffers
                dist.all_reduce(x)
            torch.cuda.synchronize()
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            times = []
            for _ in range(iters):
                start.record()
                dist.all_reduce(x)
                stop.record()
                stop.synchronize()
                times.append(start.elapsed_time(stop) * 1e3)  # us
            result[name] = times
        if rank == 0:
            result["nccl_version"] = ".".join(map(str, torch.cuda.nccl.version()))
            result["gpu_name"] = torch.cuda.get_device_name(0)
            Path(out).write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


def child(world: int, iters: int, out: str) -> None:
    """One job: ``world`` rank processes (they die with this one: torch's spawn joins them)."""
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(rank_main, args=(world, iters, f"{tmp}/store", out), nprocs=world, join=True)


def run_job(world: int, iters: int, env: dict[str, str]) -> dict[str, Any]:
    """One child job under ``env``; rank 0's samples."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "samples.json"
        subprocess.run([sys.executable, __file__, "--child", str(out), "--ranks", str(world), "--iters", str(iters)],
                       env={**os.environ, **env}, check=True, timeout=600)
        return json.loads(out.read_text())


def ring_check(ring_dir: str, job: str, expected: int) -> dict[str, Any]:
    """What the plugin recorded in a job: records, complete ones, ones with every channel seen, lost."""
    from waitbench.profiler.recording import load_sources

    rings = load_sources([ring_dir], job=job)
    recs = [r for ring in rings for r in ring.records if r["func"] == "AllReduce"]
    return {"records": len(recs), "expected": expected, "complete": sum(r["complete"] for r in recs),
            "all_channels": sum(r["channels_seen"] == r["channels"] for r in recs),
            "lost": sum(r.lost for r in rings), "torn": sum(r.torn for r in rings)}


def summary(values: list[float]) -> dict[str, float]:
    """Median and spread (min, max) of per-job medians."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> int:
    """Alternate plain and profiled jobs, print the figures, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="JSON file for every sample")
    parser.add_argument("--ranks", type=int, default=2, help="ranks (GPUs) of each job, >= 2 (default: 2)")
    parser.add_argument("--rounds", type=int, default=6, help="plain/profiled job pairs (default: 6)")
    parser.add_argument("--iters", type=int, default=2000, help="timed calls per size and job (default: 2000)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ranks < 2:
        parser.error("--ranks must be >= 2: NCCL sends a 1-rank job's plugin no event (see the module docstring)")
    if args.child:
        child(args.ranks, args.iters, args.out)
        return 0
    from waitbench.profiler.library import env_vars

    ring_dir = tempfile.mkdtemp(prefix="waitbench-prof-bench-")
    per_mode: dict[str, dict[str, list[float]]] = {m: {"small_us": [], "large_gbps": []} for m in ("plain", "plugin")}
    checks, jobs = [], []
    for k in range(args.rounds):
        for mode in (("plain", "plugin") if k % 2 == 0 else ("plugin", "plain")):
            job = f"bench{k}"
            env = env_vars(job, ring_dir, entries=1 << 16) if mode == "plugin" else {"NCCL_PROFILER_PLUGIN": "none"}
            got = run_job(args.ranks, args.iters, env)
            bus = 2 * (args.ranks - 1) / args.ranks
            per_mode[mode]["small_us"].append(statistics.median(got["small"]))
            per_mode[mode]["large_gbps"].append(bus * LARGE_BYTES / (statistics.median(got["large"]) * 1e-6) / 1e9)
            jobs.append({"round": k, "mode": mode, **got})
            if mode == "plugin":
                checks.append(ring_check(ring_dir, job, args.ranks * 2 * (WARMUP + args.iters)))
    figures = {m: {name: summary(v) for name, v in d.items()} for m, d in per_mode.items()}
    lat = figures["plugin"]["small_us"]["median"] / figures["plain"]["small_us"]["median"] - 1
    bw = 1 - figures["plugin"]["large_gbps"]["median"] / figures["plain"]["large_gbps"]["median"]
    print(f"GPU {jobs[0]['gpu_name']} x {args.ranks}, NCCL {jobs[0]['nccl_version']}, {args.rounds} rounds x "
          f"{args.iters} calls")
    for m in ("plain", "plugin"):
        s, b = figures[m]["small_us"], figures[m]["large_gbps"]
        print(f"{m:7s} 8 B all_reduce p50 {s['median']:.2f} us ({s['min']:.2f} .. {s['max']:.2f}); "
              f"256 MiB busbw {b['median']:.1f} GB/s ({b['min']:.1f} .. {b['max']:.1f})")
    print(f"plugin cost: latency {lat:+.1%}, bandwidth {bw:+.1%}")
    print("rings:", checks)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"figures": figures, "latency_cost": lat, "bandwidth_cost": bw,
                                          "ring_checks": checks, "jobs": jobs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
