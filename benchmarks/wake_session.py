#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Does an open `waitbench run` session move wake-up figures? One process, pieces added one at a time.

Why: the wake-up columns of a `waitbench run` table read higher than benchmarks/wake_latency.py's in
a fresh process. This measures the launch floor and four paths (rtt p50, 3000 trials, three times
each) in a plain process, then after each workload is calibrated (fma, stream, gemm), with the
telemetry sampler running (as `waitbench run` runs it), and after it stopped, so a piece that moved
them would show.

Usage: python3 benchmarks/wake_session.py OUT.json   (needs a GPU and torch for the gemm workload)
"""

from __future__ import annotations

import json
import sys
import threading

import numpy as np

from waitbench.telemetry import Sampler
from waitbench.wake import launch_floor_us, wake_latency
from waitbench.workloads import TimedWorkload

CASES = ["spin", "stream-wait-value", "host-spin", "host-block"]
REPEATS = 3
TRIALS = 3000


def measure(cond: str, out: list[dict]) -> None:
    """REPEATS rows of the floor and each case's rtt p50 (us) under condition ``cond``."""
    for rep in range(REPEATS):
        row = {"cond": cond, "rep": rep, "floor": round(float(np.median(launch_floor_us(0, TRIALS))), 2),
               "threads": threading.active_count()}
        for name in CASES:
            w = wake_latency(name, trials=TRIALS)
            row[name] = round(float(np.percentile(w.rtt_us, 50)), 2)
        out.append(row)
        print(row, flush=True)


def main() -> int:
    """Measure under each condition in turn and write the rows."""
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    out: list[dict] = []
    measure("plain", out)
    kept = []  # the workloads stay alive, as in a session
    for name in ["fma", "stream", "gemm"]:
        tw = TimedWorkload(name, 0)
        tw.calibrate(0.2)
        tw.workload.measure_ceiling(0.2)
        kept.append(tw)
        measure(f"+ {name} calibrated", out)
    sampler = Sampler(gpus=[0])
    sampler.start()
    measure("+ runner telemetry", out)
    sampler.stop()
    measure("telemetry closed", out)
    with open(sys.argv[1], "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
