# SPDX-License-Identifier: Apache-2.0
"""The probe itself: a short, bounded burst of the calibrated FP32 FMA kernel on a stream of its own.

Why it exists: without GPM (pre-Hopper, GeForce such as the seed report's RTX 3090s) the counters
cannot tell a waiting kernel from work. What concurrent work can still get can: a probe that runs at
its idle speed while NVML reads 100% shows that the resident kernel leaves the SMs free; a probe
that cannot start shows a resident kernel holding every SM.

Bounds: at most :data:`PROBE_BUDGET_S` of GPU time from the first launch (every wait is capped by
what is left of it), and :data:`PROBE_ALLOC_MAX_BYTES` of device memory for the kernel's own buffer
(a few tens of KB; the CUDA context the driver creates for any process comes on top and is freed
when the probe's process exits). It runs in a child process (``python -m waitbench.diagnose.probe``, see
run.py): a probe stuck behind a kernel that holds every SM is killed with its process, so diagnose
itself never holds a CUDA context and never hangs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ...errors import NvmlError
from ...telemetry import nvml
from ...telemetry.gpu_names import cuda_index_of
from ...workloads import FmaWorkload, TimedWorkload

# PROVISIONAL: to be derived from device recordings. FMA iterations per thread, chosen by arithmetic (8 chains x
# 2 flop x 1024 per thread over 16 waves of blocks: about a millisecond a launch at tens of TFLOP/s), not measured.
PROBE_FMA_ITERS = 1024
PROBE_BUDGET_S = 0.9  # GPU time from the first launch to the last result (the "< 1 s")
PROBE_RUN_S = 0.05  # target length of one timed run (several launches back to back)
PROBE_MAX_LAUNCHES = 64
PROBE_RUNS = 5  # timed runs of a probe (fewer when the budget runs out; at least one)
BASELINE_RUNS = 7  # timed runs of the idle baseline (same budget)
PROBE_ALLOC_MAX_BYTES = 64 << 20  # the "< 64 MB": the kernel's buffer is checked against it
# The warm-idle power baseline, measured with a baseline run: this process holds a CUDA context (the clocks
# follow a live context: 345 MHz / 74 W without one, 1980 MHz / ~120 W with one on an H100) and runs nothing.
WARM_IDLE_SETTLE_S = 1.0  # after the context is made: clocks and power settle
WARM_IDLE_S = 1.0  # energy-counter window (>= 5 of its ~0.1 s updates)


@dataclass
class ProbeRun:
    """One probe burst on one GPU: median throughput of its timed runs, or why there is none.

    ``status``: ``ok`` (runs finished), ``stalled`` (a launch did not finish within the budget: a
    resident kernel holds the SMs), ``error`` (the probe could not run: no CUDA, GPU not visible...).
    """

    uuid: str
    status: str
    tflops: float | None = None
    runs_tflops: list[float] = field(default_factory=list)
    launches: int = 0
    fma_iters: int = PROBE_FMA_ITERS
    gpu_time_s: float = 0.0
    alloc_bytes: int | None = None
    cuda_index: int | None = None
    reason: str | None = None
    power_warm_idle_w: float | None = None  # measured with a baseline run only
    power_reason: str | None = None  # why power_warm_idle_w is None

    def to_dict(self) -> dict[str, Any]:
        """The run as a JSON-ready dict (the child's one output line)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProbeRun:
        """A run from :meth:`to_dict`'s form (unknown keys are ignored)."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in names})


def warm_idle_power(uuid: str) -> tuple[float | None, str | None]:
    """This GPU's mean power while this process holds a context and runs nothing: (watts, None) or (None, why).

    API: ``nvmlDeviceGetTotalEnergyConsumption`` (mJ) over :data:`WARM_IDLE_S`, after :data:`WARM_IDLE_SETTLE_S`.
    """
    try:
        with nvml.session():
            handle = nvml.call("nvmlDeviceGetHandleByUUID", uuid)
            time.sleep(WARM_IDLE_SETTLE_S)
            e0, t0 = nvml.call("nvmlDeviceGetTotalEnergyConsumption", handle), time.monotonic()
            time.sleep(WARM_IDLE_S)
            e1, t1 = nvml.call("nvmlDeviceGetTotalEnergyConsumption", handle), time.monotonic()
    except NvmlError as exc:
        return None, str(exc)
    return (e1 - e0) / 1000.0 / (t1 - t0), None


def measure(uuid: str, runs: int = PROBE_RUNS, budget_s: float = PROBE_BUDGET_S, *,
            warm_idle: bool = False) -> ProbeRun:
    """Run the probe on GPU ``uuid`` in this process (needs a GPU; diagnose runs it in a child).

    With ``warm_idle``, the warm-idle power is measured first (a baseline run on an idle GPU).
    """
    index = cuda_index_of(uuid)
    tw = TimedWorkload(FmaWorkload(size=PROBE_FMA_ITERS), index)
    power, power_reason = warm_idle_power(uuid) if warm_idle else (None, "not a baseline run")
    shape = tw.workload.victim_shape() or {}
    alloc = 4 * int(shape.get("grid", 0))  # one float per block: the kernel's only buffer
    out = ProbeRun(uuid, "ok", cuda_index=index, alloc_bytes=alloc, power_warm_idle_w=power, power_reason=power_reason)
    if alloc > PROBE_ALLOC_MAX_BYTES:
        out.status, out.reason = "error", f"the probe would allocate {alloc} B, over its {PROBE_ALLOC_MAX_BYTES} B cap"
        return out
    start = time.monotonic()
    deadline = start + budget_s
    first = tw.run(1, timeout_s=budget_s)  # warm-up: module load, clocks
    single = tw.run(1, timeout_s=max(deadline - time.monotonic(), 1e-3)) if first.completed else first
    if not single.completed:
        out.status = "stalled"
        out.gpu_time_s = time.monotonic() - start
        out.reason = (f"one launch of the probe did not finish within {out.gpu_time_s:.2f} s: "
                      "a resident kernel holds every SM it could use")
        return out
    out.launches = max(1, min(PROBE_MAX_LAUNCHES, round(PROBE_RUN_S / max(single.elapsed_s, 1e-6))))
    expected = single.elapsed_s * out.launches
    while len(out.runs_tflops) < runs:
        left = deadline - time.monotonic()
        if out.runs_tflops and left < expected:
            break
        t = tw.run(out.launches, timeout_s=max(left, 1e-3))
        if not t.completed:
            if not out.runs_tflops:
                out.status = "stalled"
                out.reason = f"a run of {out.launches} launches did not finish within the {budget_s:.2f} s budget"
            break
        out.runs_tflops.append(tw.throughput(t))
        expected = t.elapsed_s
    out.gpu_time_s = time.monotonic() - start
    if out.runs_tflops:
        out.tflops = statistics.median(out.runs_tflops)
    return out


def main(argv: list[str] | None = None) -> int:
    """Child entry: measure, print one JSON line, and leave without waiting for queued launches."""
    ap = argparse.ArgumentParser(prog="python -m waitbench.diagnose.probe", description=__doc__.split("\n\n")[0])
    ap.add_argument("--uuid", required=True, help="the GPU's UUID as NVML reports it")
    ap.add_argument("--runs", type=int, default=PROBE_RUNS, help="timed runs (default %(default)s)")
    ap.add_argument("--warm-idle", action="store_true", help="measure the warm-idle power first (baseline runs)")
    args = ap.parse_args(argv)
    try:
        run = measure(args.uuid, max(1, args.runs), warm_idle=args.warm_idle)
    except Exception as exc:  # noqa: BLE001 - the process boundary: any failure is a reason on the one output line
        run = ProbeRun(args.uuid, "error", reason=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    sys.stdout.write(json.dumps(run.to_dict()) + "\n")
    sys.stdout.flush()
    # A stalled probe leaves launches queued behind the resident kernel: freeing its buffer would
    # synchronize with them. Exit at once; the driver discards the process's context and its queue.
    os._exit(0)
