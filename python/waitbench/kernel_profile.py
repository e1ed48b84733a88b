# SPDX-License-Identifier: Apache-2.0
"""Launch shapes of the kernels a callable runs, as CUPTI reports them through torch's profiler.

Why one place: the GEMM victim's shape (what it leaves of the SMs to a waiter) and the NCCL kernel's
shape (what a real collective holds while it waits) are read the same way: grid and block sizes,
registers per thread and shared memory per block of each kernel the callable launched.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from collections.abc import Callable
from typing import Any


def profiled_kernels(torch: Any, fn: Callable[[], Any], device: Any = None) -> list[dict[str, Any]]:
    """Every kernel ``fn`` launched, in launch order: name, grid, block, regs, smem, duration (us).

    ``fn`` runs once under the profiler, then the device is synchronised; warm it up first (the first
    call may pick another kernel). Kernels without a reported launch shape are left out.
    """
    from torch.profiler import ProfilerActivity, profile

    # torch's profiler warns that it "clears events at the end of each cycle": one cycle is all we record.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Profiler clears events at the end of each cycle")
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn()
            torch.cuda.synchronize(device)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.json")
        prof.export_chrome_trace(path)
        with open(path, encoding="utf-8") as fh:
            events = json.load(fh).get("traceEvents", [])
    kernels = sorted((e for e in events if e.get("cat") == "kernel"), key=lambda e: e.get("ts", 0))
    out = []
    for k in kernels:
        a = k.get("args", {})
        if a.get("grid") and a.get("block"):
            out.append({"kernel": k.get("name"), "grid": math.prod(a["grid"]), "block": math.prod(a["block"]),
                        "regs": a.get("registers per thread"), "smem": a.get("shared memory"),
                        "dur_us": k.get("dur")})
    return out
