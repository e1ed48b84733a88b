#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Can work run beside a waiter of a given shape?

Prints the waiter's real resources and placement, then times one workload run with the waiter
resident (stall if it cannot finish in --timeout-s).

Usage: python benchmarks/residency.py [--blocks N] [--threads T] [--registers R] [--smem-bytes B]
                                      [--workload fma|stream|gemm] [--timeout-s S]
"""

from __future__ import annotations

import argparse

import waitbench
from waitbench.workloads import TimedWorkload


def main() -> int:
    """Print the waiter's resources and placement, then time one workload run beside it (or its stall)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocks", type=int, default=0, help="0: one per SM")
    ap.add_argument("--threads", type=int, default=1024)
    ap.add_argument("--registers", type=int, default=64)
    ap.add_argument("--smem-bytes", type=int, default=0)
    ap.add_argument("--workload", default="fma")
    ap.add_argument("--timeout-s", type=float, default=2.0)
    args = ap.parse_args()
    info = waitbench._native.native().device_info(0)
    blocks = args.blocks or info["sm_count"]
    tw = TimedWorkload(args.workload)
    tw.calibrate(0.05)
    solo = tw.run()
    with waitbench.Waiter("spin", blocks=blocks, threads=args.threads, registers=args.registers,
                          smem_bytes=args.smem_bytes, timeout_s=args.timeout_s + 20) as w:
        shape = w.shape
        beside = tw.run(timeout_s=args.timeout_s)
    if not beside.completed:
        tw.finish()
    ids = shape.pop("sm_ids")
    print(f"waiter {shape}, distinct SMs {len(set(ids))} of {info['sm_count']}")
    print(f"{args.workload}: solo {solo.elapsed_s * 1e3:.2f} ms; beside the waiter "
          + (f"{beside.elapsed_s * 1e3:.2f} ms" if beside.completed else f"STALLED (> {args.timeout_s} s)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
