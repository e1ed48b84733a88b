#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# ruff: noqa: E402 - a start-up signal handler comes before the heavy imports
"""Correctness of waitbench.HostBarrier at scale: N ranks x R rounds with random delays, and faults.

Every round is checked (no early release, no rank two rounds ahead, arrival indexes a permutation);
CI runs a smaller version (tests/barrierbench/test_stress.py, tests/barrierbench/test_faults.py).

Usage: python benchmarks/barrier_stress.py [--ranks 4] [--rounds 100000] [--spins 0,50] [--mp]
                                           [--faults EPISODES [--fault-rounds 1000] [--max-ranks 16]]

--mp also runs the same rank loop on multiprocessing.Barrier (the loop is written for that
barrier's interface: the drop-in check). --faults runs EPISODES fault-injection episodes instead
(waitbench.barrierbench.faults: 2..--max-ranks ranks, kill -9 or SIGSTOP at random points, every
round checked, every kill noticed by every other rank within a second) and prints the detection
times. Exit status 1 if any run found an error; 130 on Ctrl-C (143 on SIGTERM), with what finished.
"""

from __future__ import annotations

import os
import signal


def _starting(signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM during the imports below: nothing is written yet; one line, no traceback."""
    os.write(2, f"{TOOL}: stopped while starting (signal {signum}); nothing written\n".encode())
    os._exit(128 + signum)


TOOL = "barrier_stress"
if __name__ == "__main__":  # not in a spawned rank, which imports this file as __mp_main__
    signal.signal(signal.SIGINT, _starting)  # until main() hands both to stop_on_sigterm()
    signal.signal(signal.SIGTERM, _starting)

import argparse
import sys

from waitbench.barrierbench.faults import run_faults
from waitbench.barrierbench.lifeline import interrupted_exit, stop_on_sigterm
from waitbench.barrierbench.stress import run_stress


def _stress(args: argparse.Namespace) -> bool:
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
    return failed


def main() -> int:
    """Run the stress check for each spin setting (or the fault injection); exit 1 if anything went wrong."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ranks", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=100_000)
    ap.add_argument("--spins", default="0,50", help="HostBarrier spin_us values to run")
    ap.add_argument("--mp", action="store_true", help="also run multiprocessing.Barrier through the same loop")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--faults", type=int, default=0, metavar="EPISODES", help="fault-injection episodes instead")
    ap.add_argument("--fault-rounds", type=int, default=1000, help="checked rounds per fault episode")
    ap.add_argument("--max-ranks", type=int, default=16, help="most ranks of a fault episode (at least 2)")
    args = ap.parse_args()
    stop_on_sigterm()
    try:
        if args.faults:
            r = run_faults(args.faults, args.fault_rounds, max_ranks=args.max_ranks, seed=args.seed)
            print(r.summary(), flush=True)
            for e in r.errors:
                print("  " + e)
            return 0 if r.ok else 1
        failed = _stress(args)
    except ValueError as exc:
        print(f"barrier_stress: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        return interrupted_exit("barrier_stress", exc, "the runs printed above finished")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
