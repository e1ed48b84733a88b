#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Correctness of waitbench.HostBarrier at scale: N ranks x R rounds with random delays.

Every round is checked (no early release, no rank two rounds ahead, arrival indexes a permutation);
CI runs a smaller version (tests/barrierbench/test_stress.py).

Usage: python benchmarks/barrier_stress.py [--ranks 4] [--rounds 100000] [--spins 0,50] [--mp]

--mp also runs the same rank loop on multiprocessing.Barrier (the loop is written for that
barrier's interface: the drop-in check). Exit status 1 if any run found an error.
"""

from __future__ import annotations

import argparse
import sys

from waitbench.barrierbench.stress import run_stress


def main() -> int:
    """Run the stress check for each spin setting; exit 1 if any round went wrong."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ranks", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=100_000)
    ap.add_argument("--spins", default="0,50", help="HostBarrier spin_us values to run")
    ap.add_argument("--mp", action="store_true", help="also run multiprocessing.Barrier through the same loop")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    runs = [("shm-futex", int(s)) for s in args.spins.split(",") if s] + ([("mp-barrier", 0)] if args.mp else [])
    failed = False
    for kind, spin in runs:
        r = run_stress(args.ranks, args.rounds, kind=kind, spin_us=spin, seed=args.seed)
        label = kind + (f" spin_us={spin}" if kind == "shm-futex" else "")
        print(f"{label:22} {r.ranks} ranks x {r.rounds} rounds: {'OK' if r.ok else 'FAILED'} in {r.seconds:.1f} s "
              f"({1e6 * r.seconds / r.rounds:.0f} us a round)", flush=True)
        for e in r.errors:
            print("  " + e)
        failed |= not r.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
