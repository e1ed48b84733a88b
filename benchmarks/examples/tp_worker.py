#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The seed report as a program: a tensor-parallel worker loop that idles in the broadcast of the next request.

LMDeploy before PR #2607 (issue #2582): rank ``--root`` receives requests on the host and sends each
to the other ranks with ``torch.distributed.broadcast_object_list`` on the NCCL group; with no
request coming, the other ranks sit in that broadcast, and NCCL's kernel spins on their GPUs, which
read 100% busy. The fix (``--fix host-barrier``, as the PR did) makes every rank wait on a
``multiprocessing.Barrier`` first: nothing reaches the GPU until the root has a request.

    python3 benchmarks/examples/tp_worker.py [--fix host-barrier] [--late asleep|gemm] [--duration 60]

One process per GPU (spawned). A request comes every ``--request-every`` seconds; between requests
the root sleeps on the host (``--late asleep``: an idle server) or computes bf16 GEMMs (``--late
gemm``: a rank late because it is busy). Each rank prints one JSON line when it is ready (rank, pid,
GPU), so a script can point ``waitbench diagnose`` at it; it stops after ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import timedelta
from typing import Any

# NVLink multicast stays off (it can take a shared host's GPUs out of service); a user's value wins.
for _k, _v in {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}.items():
    os.environ.setdefault(_k, _v)


def worker(rank: int, args: argparse.Namespace, world: int, port: int, barrier: Any) -> None:
    """One rank of the worker loop: the root takes requests, every rank receives each in a broadcast."""
    import torch
    import torch.distributed as dist

    torch.cuda.set_device(rank)
    store = dist.TCPStore("127.0.0.1", port, world, is_master=False, timeout=timedelta(seconds=60))
    dist.init_process_group("nccl", store=store, rank=rank, world_size=world, device_id=torch.device("cuda", rank))
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16) if rank == args.root else None
    request: list[Any] = [None]
    dist.broadcast_object_list(request, src=args.root)  # warm-up: NCCL connections
    torch.cuda.synchronize()
    print(json.dumps({"event": "ready", "rank": rank, "pid": os.getpid(), "gpu": rank,
                      "role": "root (receives requests)" if rank == args.root else "worker"}), flush=True)
    end = time.monotonic() + args.duration
    n = 0
    while True:
        if rank == args.root:  # wait for the next request, on the host or busy on the GPU
            until = min(time.monotonic() + args.request_every, end)
            while time.monotonic() < until:
                if args.late == "gemm":
                    for _ in range(10):
                        a @ a
                    torch.cuda.synchronize()
                else:
                    time.sleep(min(0.1, max(until - time.monotonic(), 0)))
            n += 1
            request = [{"request": n} if time.monotonic() < end else "stop"]
        else:
            request = [None]
        if barrier is not None:
            barrier.wait()  # the fix: nothing is enqueued on the GPU until every rank is here
        dist.broadcast_object_list(request, src=args.root)
        if request[0] == "stop":
            break
    dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    """Spawn one rank per GPU and let them serve until the time is up."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fix", choices=("none", "host-barrier"), default="none",
                    help="host-barrier: a multiprocessing.Barrier before each broadcast (LMDeploy PR #2607)")
    ap.add_argument("--late", choices=("asleep", "gemm"), default="asleep",
                    help="what the root does between requests: sleep on the host, or compute GEMMs")
    ap.add_argument("--root", type=int, default=1, help="the rank that receives requests (default: 1)")
    ap.add_argument("--request-every", type=float, default=30.0, metavar="S", help="seconds between requests")
    ap.add_argument("--duration", type=float, default=60.0, metavar="S", help="seconds to run, then stop")
    args = ap.parse_args(argv)
    import torch
    import torch.distributed as dist
    import torch.multiprocessing as mp

    world = torch.cuda.device_count()
    if world < 2:
        print(f"tp_worker: needs 2 or more GPUs, found {world}", file=sys.stderr)
        return 2
    if not 0 <= args.root < world:
        print(f"tp_worker: --root={args.root} is invalid: expected a rank in [0, {world - 1}]", file=sys.stderr)
        return 2
    if not (0 < args.request_every <= 3600 and 0 < args.duration <= 86400):
        print("tp_worker: --request-every must be in (0, 3600] and --duration in (0, 86400] seconds", file=sys.stderr)
        return 2
    store = dist.TCPStore("127.0.0.1", 0, world, is_master=True, timeout=timedelta(seconds=60),
                          wait_for_workers=False)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(world) if args.fix == "host-barrier" else None
    mp.start_processes(worker, args=(args, world, store.port, barrier), nprocs=world, start_method="spawn")
    return 0


if __name__ == "__main__":
    sys.exit(main())
