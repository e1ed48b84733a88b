#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""How wake-up latency grows with the number of threads polling one flag, in host or device memory.

NCCL's LL protocol has every thread poll the line it owns (512 per channel); Simple has one poller per
channel. This varies only the pollers per block (16 blocks of 512 threads, 32 registers, no shared
memory), all on one shared word or each on its own 16-byte line, for a flag in host-mapped and in
device memory, and prints the round-trip percentiles.

Usage: python benchmarks/pollers.py [--trials N] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json

import waitbench

POLLERS = (1, 32, 128, 512)


def main() -> int:
    """Measure wake-up latency per poller count, flag lines and flag location; print and write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--out")
    args = ap.parse_args()
    rows = []
    print(f"{'flag, lines':18} {'pollers/block':>13} {'total pollers':>13} {'rtt p50 us':>10} {'rtt p99 us':>10} "
          f"{'observe p50 us':>14}")
    for lines in ("shared", "per-poller"):
        for flag in ("host", "device"):
            for pollers in POLLERS:
                wl = waitbench.wake_latency("spin", trials=args.trials, blocks=16, threads=512, pollers=pollers,
                                            flag=flag, flag_lines=lines)
                f = wl.record_fields()
                rows.append({"flag": flag, "flag_lines": lines, "pollers_per_block": pollers, "blocks": 16, **f})
                print(f"{flag + ' ' + lines:18} {pollers:13d} {16 * pollers:13d} {f['wake_rtt_p50_us']:10.1f} "
                      f"{f['wake_rtt_p99_us']:10.1f} {f['wake_observe_p50_us']:14.1f}", flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
