#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Does a resident waiter keep the GPU out of its idle power state? A timeline, cross-checked.

Phases: idle -> a 1-warp `spin` armed in a child process -> idle after the child exited (no CUDA
context left) -> `spin` armed in this process -> idle with this process's context alive ->
`host-block` armed -> idle. Every 0.25 s it reads power (nvmlDeviceGetPowerUsage), SM clock and P-state through
NVML, and, independently of waitbench's own NVML code, `nvidia-smi --query-gpu` runs beside it.
Prints mean power, clock and P-state per phase and how long the clock took to fall after a release.

Usage: python benchmarks/power_states.py OUT.json [--gpu 0] [--phase-s 15]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time

import pynvml

import waitbench
from waitbench._native import native


def main() -> int:
    """Run the phases, with NVML and nvidia-smi sampled beside them, print each phase and write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--gpu", type=int, default=0)
    ap.add_argument("--phase-s", type=float, default=12.0)
    args = ap.parse_args()
    uuid = native().device_info(args.gpu)["uuid"]
    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByUUID(uuid)
    samples: list[dict] = []
    phase = {"name": "idle-start"}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append({"t": time.monotonic(), "phase": phase["name"],
                            "power_w": pynvml.nvmlDeviceGetPowerUsage(h) / 1e3,
                            "sm_clock_mhz": pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM),
                            "pstate": pynvml.nvmlDeviceGetPerformanceState(h),
                            "util_pct": pynvml.nvmlDeviceGetUtilizationRates(h).gpu})
            time.sleep(0.25)

    query = "--query-gpu=timestamp,utilization.gpu,power.draw,clocks.sm,pstate"
    smi = subprocess.Popen(["nvidia-smi", f"--id={uuid}", query, "--format=csv,noheader", "-lms", "500"],
                           stdout=subprocess.PIPE, text=True)
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    marks = {}

    def hold(name: str, strategy: str | None, child: bool = False) -> None:
        phase["name"] = name
        marks[name] = time.monotonic()
        if strategy is None:
            time.sleep(args.phase_s)
        elif child:
            code = (f"import time, waitbench\nwith waitbench.Waiter({strategy!r}, gpu={args.gpu}, "
                    f"timeout_s={args.phase_s + 30}):\n    time.sleep({args.phase_s})")
            subprocess.run([sys.executable, "-c", code], check=True)
        else:
            with waitbench.Waiter(strategy, gpu=args.gpu, timeout_s=args.phase_s + 30):
                time.sleep(args.phase_s)

    try:
        hold("idle-start", None)
        hold("spin-in-child", "spin", child=True)
        hold("idle-no-context", None)
        hold("spin-armed", "spin")
        hold("idle-with-context", None)
        hold("host-block-armed", "host-block")
        hold("idle-after-host-block", None)
    finally:
        stop.set()
        th.join()
        smi.terminate()
        smi_lines = smi.communicate()[0].strip().splitlines()
        pynvml.nvmlShutdown()

    summary = []
    for name in marks:
        ss = [s for s in samples if s["phase"] == name]
        hi = [s for s in ss if s["sm_clock_mhz"] > 1000]
        fall = next((s["t"] - marks[name] for s in ss if s["sm_clock_mhz"] < 1000), None)
        summary.append({"phase": name, "power_mean_w": sum(s["power_w"] for s in ss) / len(ss),
                        "power_last_w": ss[-1]["power_w"], "util_mean_pct": sum(s["util_pct"] for s in ss) / len(ss),
                        "clock_first_mhz": ss[0]["sm_clock_mhz"], "clock_last_mhz": ss[-1]["sm_clock_mhz"],
                        "pstates": sorted({s["pstate"] for s in ss}), "high_clock_share": len(hi) / len(ss),
                        "s_until_clock_below_1ghz": fall})
    with open(args.out, "w") as fh:
        json.dump({"summary": summary, "samples": samples, "nvidia_smi": smi_lines}, fh, indent=1)
    print(f"{'phase':24} {'power W':>8} {'last W':>7} {'util%':>6} {'clk first':>9} {'clk last':>8} "
          f"{'P-states':>9} {'s to <1GHz':>10}")
    for r in summary:
        fall = "" if r["s_until_clock_below_1ghz"] is None else f"{r['s_until_clock_below_1ghz']:.1f}"
        print(f"{r['phase']:24} {r['power_mean_w']:8.1f} {r['power_last_w']:7.1f} {r['util_mean_pct']:6.1f} "
              f"{r['clock_first_mhz']:9} {r['clock_last_mhz']:8} {r['pstates']!s:>9} {fall:>10}")
    print("nvidia-smi (independent), every 10th line:")
    for line in smi_lines[::10]:
        print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
