#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Wake-up latency of every strategy on this GPU, against the targets of waitbench's issue tracker.

Usage: python benchmarks/wake_latency.py [--trials N] [--gpu I] [--cases LABEL,...] [--out FILE.json]

What each figure includes:
  observe: release (host store, or the driver call that writes a device flag) -> the waiter sees it
           (device waits: %globaltimer, mapped to the host clock by a ping calibration; host waits:
           the waiting thread's clock).
  rtt:     release -> the host sees the ack word the GPU writes once the waiter is done (host waits
           include waking the thread and launching the work kernel).
  floor:   launching a 1-warp ack kernel from a hot thread -> the host sees its ack (a p50 beside each
           case; the row 'launch-floor' is a full series of --trials of it).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

import waitbench
from waitbench.machine import run_identity
from waitbench.stats import percentiles_us
from waitbench.wake import launch_floor_us

# Targets on an H100 (round-trip p50, us).
TARGETS_RTT_P50_US = {"spin": 3.0, "stream-wait-value": 15.0, "host-block": 30.0, "host-spin": 10.0}
CASES = [(s.name, {}) for s in waitbench.strategies()] + [
    ("spin", {"flag": "device"}), ("stream-wait-value", {"flag": "device"}), ("event-blocking-sync", {"sync": "spin"}),
    # Many pollers on one host-mapped word: does each channel's PCIe read queue behind the others?
    ("spin", {"blocks": 16}), ("nccl-shaped", {"flag": "device"}),
]
FLOOR_LABEL = "launch-floor"


def _label(name: str, opts: dict) -> str:
    return name + "".join(f" {k}={v}" for k, v in opts.items())


def _floor_row(gpu: int, trials: int) -> dict:
    """The launch floor as a row of its own (rtt only: nothing waits, so nothing observes)."""
    us = launch_floor_us(gpu, trials)
    f = percentiles_us(us * 1e3, "wake_rtt")
    f.update({f"wake_observe_{k}_us": None for k in ("min", "p50", "p99", "p999", "max")})
    return {"strategy": None, "options": {}, "label": FLOOR_LABEL, "target_rtt_p50_us": None, "verdict": "",
            "expired": 0, "aborted": 0, "wake_trials": int(us.size), "wake_floor_rtt_p50_us": float(np.median(us)),
            "wait_host_cpu_pct": None, **f}


def main() -> int:
    """Measure wake-up latency of every case, print the table and write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--gpu", type=int, default=0)
    ap.add_argument("--cases", help="comma-separated labels to run (as printed, e.g. 'spin,event-blocking-sync "
                    f"sync=spin,{FLOOR_LABEL}'); default: every case and the floor")
    ap.add_argument("--out", help="write all figures as JSON here")
    args = ap.parse_args()
    known = [_label(n, o) for n, o in CASES] + [FLOOR_LABEL]
    wanted = known if not args.cases else [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in known]
    if unknown:
        ap.error(f"--cases: unknown label(s) {unknown}; expected some of {known}")
    rows = []
    for name, opts in CASES:
        label = _label(name, opts)
        if label not in wanted:
            continue
        wl = waitbench.wake_latency(name, gpu=args.gpu, trials=args.trials, **opts)
        f = wl.record_fields()
        target = TARGETS_RTT_P50_US.get(name) if not opts else None
        verdict = "" if target is None else ("PASS" if f["wake_rtt_p50_us"] <= target else "MISS")
        rows.append({"strategy": name, "options": opts, "label": label, "target_rtt_p50_us": target,
                     "verdict": verdict, "expired": wl.expired, "aborted": wl.aborted, **f})
        print(f"done {label}", file=sys.stderr, flush=True)
    if FLOOR_LABEL in wanted:
        rows.append(_floor_row(args.gpu, args.trials))
    ident = run_identity(args.gpu)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"identity": ident, "trials": args.trials, "rows": rows}, fh, indent=1)
    print(f"\nwake-up latency on {ident['gpu_name']} (driver {ident['driver_version']}), {args.trials} trials, us")
    hdr = (f"{'strategy':34} {'obs p50':>8} {'obs p99':>8} {'rtt min':>8} {'rtt p50':>8} {'rtt p99':>8} "
           f"{'rtt p99.9':>9} {'floor':>6} {'cpu%':>6} {'target':>7}")
    print(hdr)
    for r in rows:
        cpu = "" if r["wait_host_cpu_pct"] is None else f"{r['wait_host_cpu_pct']:.0f}"
        tgt = "" if r["target_rtt_p50_us"] is None else f"<={r['target_rtt_p50_us']:g} {r['verdict']}"
        obs50, obs99 = (f"{r[k]:8.2f}" if r[k] is not None else f"{'':8}" for k in ("wake_observe_p50_us",
                                                                                       "wake_observe_p99_us"))
        print(f"{r['label']:34} {obs50} {obs99} "
              f"{r['wake_rtt_min_us']:8.2f} {r['wake_rtt_p50_us']:8.2f} {r['wake_rtt_p99_us']:8.2f} "
              f"{r['wake_rtt_p999_us']:9.2f} {r['wake_floor_rtt_p50_us']:6.2f} {cpu:>6} {tgt:>7}")
    return 0 if all(r["verdict"] != "MISS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
