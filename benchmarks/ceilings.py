#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Are waitbench's ceilings ceilings? The GEMM victim beside torch's own timing; FMA at the clock it held.

GEMM: waitbench's ``gemm`` victim (torch bf16 n^3 matmul on a waitbench stream, timed from enqueue on
the host clock to an event polled in C++, as the suite does) and torch's own way of timing the same
product (CUDA events around back-to-back ``torch.matmul`` on torch's current stream), interleaved in
runs of the suite's length (the launches ``calibrate(--run-s)`` picks) and of 10x that. A replica of
the victim's run also records CUDA events on its stream, so the same run is timed both ways: that
separates the timing method from the GPU's state. Every run carries the mean SM clock NVML read
during it (sampled every 5 ms) and, for long runs, the power from the energy counter. A "rested" pass
after 2 s idle shows what a short benchmark of a rested GPU reads.

FMA: the ``fma`` workload's throughput over the FP32 peak at the clock its kernel held (clock64 /
%globaltimer over its blocks, what the suite now uses), beside the fraction NVML's clock would give.

Usage: python3 benchmarks/ceilings.py [--gpu 0] [--rounds 5] [--run-s 0.03] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pynvml
import torch

from waitbench._native import native
from waitbench.workloads import TimedWorkload, fp32_peak_tflops

TORCH_EVENTS = "torch events, current stream"  # the reference method: what a torch user's timing reads
REASON_BITS = {0x1: "idle", 0x2: "app-clocks", 0x4: "sw-power-cap", 0x8: "hw-slowdown", 0x10: "sync-boost",
               0x20: "sw-thermal", 0x40: "hw-thermal", 0x80: "hw-power-brake", 0x100: "display-clocks"}


class NvmlSeries:
    """SM clock, energy counter and clock-event reasons every 5 ms on a thread, for any interval."""

    def __init__(self, uuid: str) -> None:
        pynvml.nvmlInit()
        self.h = pynvml.nvmlDeviceGetHandleByUUID(uuid)
        self.max_sm_mhz = float(pynvml.nvmlDeviceGetMaxClockInfo(self.h, pynvml.NVML_CLOCK_SM))
        self.samples: list[tuple[float, float, float, int]] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _read(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except pynvml.NVMLError:
            return None

    def _run(self) -> None:
        h = self.h
        reasons = getattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or \
            pynvml.nvmlDeviceGetCurrentClocksThrottleReasons
        while not self._stop.wait(0.005):
            clock = self._read(lambda: pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM))
            energy = self._read(lambda: pynvml.nvmlDeviceGetTotalEnergyConsumption(h))
            self.samples.append((time.monotonic(), clock, energy, self._read(lambda: reasons(h)) or 0))

    def during(self, t0: float, t1: float) -> dict[str, Any]:
        """Mean SM clock, mean power and the clock-event reasons of the samples between ``t0`` and ``t1``."""
        s = [x for x in list(self.samples) if t0 <= x[0] <= t1]
        clocks = [x[1] for x in s if x[1] is not None]
        out: dict[str, Any] = {"nvml_sm_mhz": statistics.fmean(clocks) if clocks else None, "power_w": None,
                               "reasons": sorted({n for x in s for b, n in REASON_BITS.items() if x[3] & b})}
        e = [x for x in s if x[2] is not None]
        if len(e) >= 2 and e[-1][2] != e[0][2] and t1 - t0 >= 0.2:  # the counter steps every ~100 ms
            out["power_w"] = (e[-1][2] - e[0][2]) / 1e3 / (e[-1][0] - e[0][0])
        return out

    def close(self) -> None:
        """Stop sampling and release NVML."""
        self._stop.set()
        self._t.join()
        pynvml.nvmlShutdown()


def gemm_section(gpu: int, rounds: int, run_s: float, nv: NvmlSeries) -> dict[str, Any]:
    """The suite's GEMM victim timed every way (events, from enqueue, short and long, rested), with NVML beside it."""
    nat = native()
    tw = TimedWorkload("gemm", gpu)  # the suite's victim: its stream, its data, its matmul
    if not tw.calibrate(run_s):
        raise SystemExit("the gemm victim did not finish a launch")
    n_short = tw.launches
    flop = tw.workload.work_per_launch
    dev = torch.device("cuda", gpu)
    g = torch.Generator(device=dev).manual_seed(1)
    a = torch.randn(tw.workload.n, tw.workload.n, device=dev, dtype=torch.bfloat16, generator=g)
    b = torch.randn_like(a)
    c = torch.empty_like(a)
    ext = torch.cuda.ExternalStream(tw.stream.handle, device=gpu)
    torch.cuda.synchronize(dev)

    def events(n: int, out: bool) -> tuple[float, dict]:
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        t0 = time.monotonic()
        e0.record()
        for _ in range(n):
            if out:
                torch.matmul(a, b, out=c)
            else:
                torch.matmul(a, b)
        e1.record()
        e1.synchronize()
        return flop * n / (e0.elapsed_time(e1) / 1e3) / 1e12, nv.during(t0, time.monotonic())

    def victim_run(n: int) -> tuple[float, dict]:
        t0 = time.monotonic()
        t = tw.run(n)
        return tw.throughput(t), nv.during(t0, time.monotonic())

    def victim_both(n: int) -> tuple[float, float, dict]:
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        t0, h0 = time.monotonic(), host().now_ns()
        e0.record(ext)
        tw.workload.enqueue(n)
        e1.record(ext)
        done = nat.wait_stream_idle(tw.stream.handle, gpu, 60.0)
        e1.synchronize()
        st = nv.during(t0, time.monotonic())
        return flop * n / ((done - h0) / 1e9) / 1e12, flop * n / (e0.elapsed_time(e1) / 1e3) / 1e12, st

    for n in (n_short, n_short):  # warm every path once
        events(n, False), events(n, True), victim_run(n), victim_both(n)
    runs: list[dict[str, Any]] = []

    def add(method: str, length: str, n: int, tflops: float, st: dict) -> None:
        runs.append({"method": method, "length": length, "launches": n, "tflops": tflops, **st})

    for _ in range(rounds):
        for length, n in (("suite", n_short), ("10x", 10 * n_short)):
            for method, fn in ((TORCH_EVENTS, lambda n=n: events(n, False)),
                               ("torch events, out=", lambda n=n: events(n, True)),
                               ("victim: TimedWorkload.run (suite)", lambda n=n: victim_run(n))):
                add(method, length, n, *fn())
            host, ev, st = victim_both(n)
            add("victim replica: host, from enqueue", length, n, host, st)
            add("victim replica: events on its stream", length, n, ev, st)
    for _ in range(2):  # a rested GPU: what a short benchmark after idling reads
        time.sleep(2.0)
        add(TORCH_EVENTS, "rested", n_short, *events(n_short, False))
        time.sleep(2.0)
        add("victim: TimedWorkload.run (suite)", "rested", n_short, *victim_run(n_short))
    return {"n": tw.workload.n, "launches_suite": n_short, "kernel": (tw.workload.victim_shape() or {}).get("kernel"),
            "runs": runs}


def fma_section(gpu: int, nv: NvmlSeries) -> dict[str, Any]:
    """The FMA kernel's throughput against the FP32 peak at the clock it held and at NVML's clock."""
    info = native().device_info(gpu)
    ident = {"gpu_sm_count": info["sm_count"], "gpu_cc": f"{info['cc_major']}.{info['cc_minor']}"}
    tw = TimedWorkload("fma", gpu)
    tw.calibrate(0.05)
    runs = []
    for _ in range(7):
        t0 = time.monotonic()
        tput = tw.throughput(tw.run())
        st = nv.during(t0, time.monotonic())
        held = tw.held_clock_mhz()
        if held is None:
            raise SystemExit("the fma kernel measured no clock")
        nvml_mhz = st["nvml_sm_mhz"]
        runs.append({"tflops": tput, "held_mhz": held, "fraction_held": tput / fp32_peak_tflops(ident, held),
                     "nvml_sm_mhz": nvml_mhz,
                     "fraction_nvml": tput / fp32_peak_tflops(ident, nvml_mhz) if nvml_mhz else None,
                     "reasons": st["reasons"]})
    return {"sm_count": info["sm_count"], "max_sm_mhz": nv.max_sm_mhz,
            "peak_at_max_tflops": fp32_peak_tflops(ident, nv.max_sm_mhz), "runs": runs}


def med(rows: list[dict], key: str) -> float | None:
    """The median of ``key`` over ``rows`` that have it, or None."""
    v = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(v) if v else None


def fmt(x: float | None, spec: str) -> str:
    """``x`` formatted with ``spec``, or a dash as wide."""
    width = spec.split(".")[0]
    return format(x, spec) if x is not None else "-".rjust(int(width) if width else 1)


def main() -> int:
    """Measure both sections, print them and write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpu", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--run-s", type=float, default=0.03, help="length of the suite's runs (quick: 0.03 s)")
    ap.add_argument("--out", help="write every run as JSON here")
    args = ap.parse_args()
    nv = NvmlSeries(native().device_info(args.gpu)["uuid"])
    try:
        fma = fma_section(args.gpu, nv)
        gemm = gemm_section(args.gpu, args.rounds, args.run_s, nv)
    finally:
        nv.close()
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"gpu": native().device_info(args.gpu)["name"], "torch": torch.__version__, "fma": fma,
                       "gemm": gemm}, fh, indent=1)

    print(f"\nFMA (fp32, {fma['sm_count']} SMs x 128 lanes x 2), {len(fma['runs'])} runs, medians:")
    print(f"  {med(fma['runs'], 'tflops'):.1f} TFLOP/s; clock held {med(fma['runs'], 'held_mhz'):.0f} MHz -> "
          f"fraction {med(fma['runs'], 'fraction_held'):.3f}; NVML {fmt(med(fma['runs'], 'nvml_sm_mhz'), '.0f')} MHz "
          f"-> {fmt(med(fma['runs'], 'fraction_nvml'), '.3f')}; at the max clock {fma['max_sm_mhz']:.0f} MHz -> "
          f"{med(fma['runs'], 'tflops') / fma['peak_at_max_tflops']:.3f}")
    print(f"\nGEMM bf16 {gemm['n']}^3 ({gemm['kernel']}), suite run = {gemm['launches_suite']} launches; "
          f"medians over {args.rounds} interleaved rounds")
    print(f"  {'method':38} {'run':>6} {'TFLOP/s':>8} {'NVML MHz':>8} {'W':>5}  {'vs torch':>8}  clock events")
    rows = gemm["runs"]
    verdict = {}
    for length in ("suite", "10x", "rested"):
        ref = med([r for r in rows if r["length"] == length and r["method"] == TORCH_EVENTS], "tflops")
        for method in dict.fromkeys(r["method"] for r in rows if r["length"] == length):
            sel = [r for r in rows if r["length"] == length and r["method"] == method]
            t = med(sel, "tflops")
            reasons = sorted({x for r in sel for x in r["reasons"]})
            print(f"  {method:38} {length:>6} {t:8.1f} {fmt(med(sel, 'nvml_sm_mhz'), '8.0f')} "
                  f"{fmt(med(sel, 'power_w'), '5.0f')}  {t / ref:8.3f}  {','.join(reasons)}")
            if method.startswith("victim: TimedWorkload"):
                verdict[length] = t / ref
    ok = verdict.get("suite", 0) >= 0.97
    print(f"\nvictim / torch's own timing, same run length, interleaved: {verdict.get('suite', 0):.3f} "
          f"({'PASS' if ok else 'MISS'} against 0.97); rested {verdict.get('rested', 0):.3f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
