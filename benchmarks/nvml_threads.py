# SPDX-License-Identifier: Apache-2.0
"""Does NVML survive concurrent calls from several threads? The evidence behind telemetry/nvml.py's lock.

Each case runs in a child process of its own for ``--seconds`` (a crash kills only the child): one
thread per (GPU, call mix) calls NVML in a tight loop, either straight into pynvml ("free") or
through ``waitbench.telemetry.nvml.call`` (one call at a time in the process, "serialised"). The exit
status says what happened: 0 survived, -11 SIGSEGV. Run on a machine with two or more GPUs::

    python3 benchmarks/nvml_threads.py [--seconds 4] [--out nvml_threads.json]

Cases: GPM metrics on GPU 0 beside GPM samples + energy on GPU 1 (what diagnose did on two GPUs);
the same on one GPU from two threads; energy/power only on two GPUs (no GPM); each again serialised.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

CASES = {
    # name: (serialised, [(gpu, mix), ...]) -- one thread per entry
    "gpm-two-gpus-free": (False, [(0, "gpm"), (1, "gpm"), (1, "energy")]),
    "gpm-two-gpus-serialised": (True, [(0, "gpm"), (1, "gpm"), (1, "energy")]),
    "gpm-one-gpu-two-threads-free": (False, [(0, "gpm"), (0, "gpm")]),
    "gpm-one-gpu-two-threads-serialised": (True, [(0, "gpm"), (0, "gpm")]),
    "energy-two-gpus-free": (False, [(0, "energy"), (1, "energy")]),
}


def _worker(case: str, seconds: float) -> dict[str, Any]:
    """Run one case in this process; returns call counts (a crash never returns)."""
    import pynvml as nv

    from waitbench.telemetry import nvml

    serialised, threads = CASES[case]
    nv.nvmlInit()
    caller: Callable[..., Any] = (lambda name, *a: nvml.call(name, *a)) if serialised else \
        (lambda name, *a: getattr(nv, name)(*a))
    counts = [0] * len(threads)
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def gpm(handle: Any, i: int) -> None:
        req = nv.c_nvmlGpmMetricsGet_t()
        ids = [nv.NVML_GPM_METRIC_SM_UTIL, nv.NVML_GPM_METRIC_SM_OCCUPANCY, nv.NVML_GPM_METRIC_INTEGER_UTIL,
               nv.NVML_GPM_METRIC_DRAM_BW_UTIL]
        prev = caller("nvmlGpmSampleGet", handle, caller("nvmlGpmSampleAlloc"))
        while time.monotonic() < stop:
            cur = caller("nvmlGpmSampleGet", handle, caller("nvmlGpmSampleAlloc"))
            req.version, req.numMetrics, req.sample1, req.sample2 = nv.NVML_GPM_METRICS_GET_VERSION, len(ids), prev, cur
            for k, m in enumerate(ids):
                req.metrics[k].metricId = m
            caller("nvmlGpmMetricsGet", req)
            caller("nvmlGpmSampleFree", prev)
            prev = cur
            counts[i] += 1
        caller("nvmlGpmSampleFree", prev)

    def energy(handle: Any, i: int) -> None:
        while time.monotonic() < stop:
            caller("nvmlDeviceGetTotalEnergyConsumption", handle)
            caller("nvmlDeviceGetPowerUsage", handle)
            counts[i] += 1

    def run(gpu: int, mix: str, i: int) -> None:
        try:
            (gpm if mix == "gpm" else energy)(nv.nvmlDeviceGetHandleByIndex(gpu), i)
        except Exception as exc:  # noqa: BLE001 - an NVML error is a result of the case, not a crash
            errors.append(f"{type(exc).__name__}: {exc}")

    ts = [threading.Thread(target=run, args=(g, m, i)) for i, (g, m) in enumerate(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    nv.nvmlShutdown()
    return {"calls_per_thread": counts, "errors": errors}


def main(argv: list[str] | None = None) -> int:
    """Run each case in a child process and report how it ended (survived, or the signal that killed it)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="how long each case hammers NVML (default 4)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case (default 3)")
    ap.add_argument("--out", help="JSON file for the results")
    ap.add_argument("--worker", choices=tuple(CASES), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.seconds)))
        return 0
    import pynvml as nv

    nv.nvmlInit()
    gpus, driver = nv.nvmlDeviceGetCount(), nv.nvmlSystemGetDriverVersion()
    nv.nvmlShutdown()
    results: dict[str, Any] = {"driver_version": driver, "gpus": gpus, "seconds": args.seconds, "cases": {}}
    print(f"{'case':<38} runs  exit codes (0 survived, -11 SIGSEGV)")
    for case, (_, threads) in CASES.items():
        if max(g for g, _ in threads) >= gpus:
            results["cases"][case] = {"skipped": f"needs {max(g for g, _ in threads) + 1} GPUs"}
            continue
        runs = []
        for _ in range(args.repeat):
            p = subprocess.run([sys.executable, __file__, "--worker", case, "--seconds", str(args.seconds)],
                               capture_output=True, text=True, timeout=args.seconds + 60)
            last = (p.stdout.strip().splitlines() or ["{}"])[-1]
            runs.append({"exit_code": p.returncode, **(json.loads(last) if p.returncode == 0 else {}),
                         "stderr_tail": p.stderr.strip().splitlines()[-3:]})
        results["cases"][case] = {"runs": runs}
        print(f"{case:<38} {len(runs):>4}  {[r['exit_code'] for r in runs]}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
