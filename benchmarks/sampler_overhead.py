# SPDX-License-Identifier: Apache-2.0
"""The cost of measuring: what waitbench's background sampler takes from the GPU and the host.

Run on a GPU machine (after building waitbench there)::

    python3 benchmarks/sampler_overhead.py benchmarks/results/<gpu>/sampler_overhead.json [--gpu 0] [--pairs 12]

Three figures, each against its target (issue 8):
1. a concurrent GEMM's throughput with the sampler on (a window open, default period) vs off, as
   interleaved pairs (on/off order alternates), median on/off ratio and its spread (target: within 0.5%);
2. the sampler thread's CPU use in percent of one core (target: under 1%);
3. a spin waiter's wake-up round-trip p99 with and without sampling (target: within 10%), through
   ``waitbench.wake_latency`` when the package provides it.
Prints a short table and writes every sample as JSON. Runs in about 40 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from waitbench.errors import WaitbenchError
from waitbench.telemetry import nvml
from waitbench.telemetry.sampler import DEFAULT_PERIOD_S, Sampler

SEGMENT_S = 0.4  # one throughput sample
CPU_WINDOW_S = 4.0  # a long window for the sampler's CPU use


def gemm_sampler(gpu: int) -> tuple[str, Callable[[], float]]:
    """A function timing a bf16 GEMM loop for SEGMENT_S, returning TFLOP/s (torch, else waitbench's fma)."""
    try:
        import torch
    except ImportError:
        torch = None  # type: ignore[assignment]
    if torch is not None and torch.cuda.is_available():
        n = 8192
        a = torch.randn(n, n, device=f"cuda:{gpu}", dtype=torch.bfloat16)
        b = torch.randn_like(a)

        def run() -> float:
            torch.cuda.synchronize()
            t0, launches = time.perf_counter(), 0
            while time.perf_counter() - t0 < SEGMENT_S:
                for _ in range(8):
                    torch.matmul(a, b)
                launches += 8
                torch.cuda.synchronize()
            return 2 * n**3 * launches / (time.perf_counter() - t0) / 1e12

        return "torch bf16 GEMM 8192^3 (TFLOP/s)", run
    from waitbench.workloads import run_timed

    def fma() -> float:
        t = run_timed("fma", gpu=gpu, seconds=SEGMENT_S)
        if t.value is None:
            raise RuntimeError(f"the fma workload gave no throughput: {t.reason}")
        return t.value

    return "waitbench fma (TFLOP/s; torch absent)", fma


def with_sampler(gpu: int, fn: Callable[[], Any]) -> tuple[Any, float | None]:
    """Run ``fn`` inside an open sampler window; also return the sampler thread's CPU %."""
    with Sampler([gpu], DEFAULT_PERIOD_S) as s, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short windows are expected here
        s.begin()
        value = fn()
        summary = next(iter(s.end().values()))
    return value, summary.sampler_cpu_pct


def throughput_pairs(gpu: int, pairs: int) -> dict[str, Any]:
    """Interleaved on/off pairs of a workload: what an open sampler window costs its throughput."""
    label, run = gemm_sampler(gpu)
    run()  # warm-up: clocks, cuBLAS heuristics
    rows = []
    for i in range(pairs):
        order = ("off", "on") if i % 2 == 0 else ("on", "off")
        got: dict[str, float] = {}
        for mode in order:
            got[mode] = run() if mode == "off" else with_sampler(gpu, run)[0]
        rows.append({"order": list(order), "off": got["off"], "on": got["on"], "ratio": got["on"] / got["off"]})
    ratios = np.array([r["ratio"] for r in rows])
    q1, med, q3 = np.percentile(ratios, [25, 50, 75])
    return {"workload": label, "pairs": rows, "ratio_median": float(med), "ratio_iqr_pct": float(100 * (q3 - q1) / med),
            "target": "median ratio within 0.5% of 1"}


def sampler_cpu(gpu: int) -> dict[str, Any]:
    """The sampler thread's own CPU use over an idle window."""
    _, pct = with_sampler(gpu, lambda: time.sleep(CPU_WINDOW_S))
    return {"window_s": CPU_WINDOW_S, "period_s": DEFAULT_PERIOD_S, "sampler_cpu_pct": pct,
            "target": "< 1% of one core"}


def wake_p99(gpu: int, trials: int, rounds: int) -> dict[str, Any]:
    """Wake-up round-trip p99 of a spin waiter with and without a sampler window open, in alternating rounds."""
    try:
        from waitbench import wake_latency
    except (ImportError, AttributeError) as exc:
        return {"skipped": f"waitbench.wake_latency unavailable: {exc}"}

    def rtt() -> np.ndarray:
        res = wake_latency("spin", trials=trials, gpu=gpu)
        return np.asarray(res["rtt_us"] if isinstance(res, dict) else res.rtt_us, dtype=float)

    samples: dict[str, list[np.ndarray]] = {"off": [], "on": []}
    for i in range(rounds):
        for mode in (("off", "on") if i % 2 == 0 else ("on", "off")):
            samples[mode].append(rtt() if mode == "off" else with_sampler(gpu, rtt)[0])
    p99 = {m: float(np.percentile(np.concatenate(v), 99)) for m, v in samples.items()}
    per_round = {m: [float(np.percentile(a, 99)) for a in v] for m, v in samples.items()}
    return {"trials_per_round": trials, "rounds": rounds, "rtt_p99_off_us": p99["off"], "rtt_p99_on_us": p99["on"],
            "rtt_p99_ratio": p99["on"] / p99["off"], "rtt_p99_per_round_us": per_round,
            "target": "p99 ratio within 10% of 1"}


def main(argv: list[str] | None = None) -> int:
    """Measure the sampler's three costs and write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="JSON file to write")
    ap.add_argument("--gpu", type=int, default=0)
    ap.add_argument("--pairs", type=int, default=12, help="interleaved on/off throughput pairs (>= 10)")
    ap.add_argument("--wake-trials", type=int, default=3000)
    ap.add_argument("--wake-rounds", type=int, default=4)
    args = ap.parse_args(argv)
    if args.pairs < 10:
        ap.error("--pairs must be >= 10")
    t0 = time.monotonic()
    with nvml.session():  # NVML stays initialised between segments: no nvmlInit inside the comparison
        with Sampler([args.gpu]) as s:  # measures the instrument once, outside every timed segment
            device = {"name": s.devices[0].name, "uuid": s.devices[0].uuid}
        result: dict[str, Any] = {"device": device, "argv": sys.argv,
                                  "throughput": throughput_pairs(args.gpu, args.pairs), "cpu": sampler_cpu(args.gpu),
                                  "wake": wake_p99(args.gpu, args.wake_trials, args.wake_rounds)}
    result["runtime_s"] = time.monotonic() - t0
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2)
    tp, cpu, wake = result["throughput"], result["cpu"], result["wake"]
    on = statistics.median(r["on"] for r in tp["pairs"])
    off = statistics.median(r["off"] for r in tp["pairs"])
    print(f"device: {device['name']}  ({result['runtime_s']:.0f} s)")
    print(f"{'figure':38s} {'sampler off':>12s} {'sampler on':>12s} {'on/off':>8s}  target")
    print(f"{tp['workload'][:38]:38s} {off:12.1f} {on:12.1f} {tp['ratio_median']:8.4f}  within 0.5% "
          f"(IQR {tp['ratio_iqr_pct']:.2f}%, {len(tp['pairs'])} pairs)")
    print(f"{'sampler thread CPU (% of one core)':38s} {'':>12s} {cpu['sampler_cpu_pct']:12.3f} {'':>8s}  < 1%")
    if "skipped" in wake:
        print(f"wake-up p99: {wake['skipped']}")
    else:
        print(f"{'spin wake-up RTT p99 (us)':38s} {wake['rtt_p99_off_us']:12.2f} {wake['rtt_p99_on_us']:12.2f} "
              f"{wake['rtt_p99_ratio']:8.4f}  within 10%")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except WaitbenchError as exc:  # no GPU, no NVML: one line, not a traceback
        sys.exit(f"{Path(__file__).name}: {exc}")
