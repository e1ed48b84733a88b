#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Measure the two worked research strategies beside the built-ins they compete with.

Usage: python benchmarks/examples/run_examples.py OUT.jsonl [--gpu I]

One runner session (same idle baseline, same calibrated workloads, quick settings: well under 90 s
on an H100) measures spin, spin with one poller per block spread as four in one warp, spin-backoff,
stream-wait-value, and the examples numba-exp-backoff (backoff_numba.py) and cupy-warp-pollers
(warp_pollers_cupy.py). Then read them side by side, or against a second run::

    waitbench report OUT.jsonl
    waitbench compare OUT.jsonl OTHER.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the example modules beside this script

import backoff_numba
import warp_pollers_cupy

from waitbench import results
from waitbench.runner import Session, Settings
from waitbench.throughput import PairPolicy

WORKLOADS = ("fma", "stream")
SETTINGS = Settings(window_s=1.0, wake_trials=1000,
                    pairs=PairPolicy(min_pairs=5, min_s=0.3, max_s=1.5, spread_target_pct=1.0, run_s=0.03))
CASES: list[tuple[str, dict[str, Any]]] = [
    ("spin", {}),
    ("spin", {"threads": 128, "pollers": 4}),  # four pollers in one warp: the layout cupy-warp-pollers changes
    ("cupy-warp-pollers", {"threads": 128}),  # four pollers, one per warp
    ("spin-backoff", {}),
    ("numba-exp-backoff", {}),  # the same algorithm as spin-backoff's defaults, in numba
    ("stream-wait-value", {}),
]


def main() -> int:
    """Register the examples and measure them beside the built-ins they stand next to."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="JSON Lines file to append the records to")
    ap.add_argument("--gpu", type=int, default=0)
    args = ap.parse_args()
    backoff_numba.register()
    warp_pollers_cupy.register()
    with results.ResultsWriter(args.out) as writer, Session(
            args.gpu, WORKLOADS, SETTINGS, writer, progress=lambda msg: print(msg, file=sys.stderr, flush=True)) as s:
        for name, opts in CASES:
            s.measure(name, **opts)
    print(f"wrote {writer.count} records to {args.out}; now: waitbench report {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
