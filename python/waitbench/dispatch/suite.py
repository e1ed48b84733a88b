# SPDX-License-Identifier: Apache-2.0
"""Every mode asked for, in turn, beside the same-process floor: what can run here, and the runs.

Why the availability rules live here: they are checked for every mode before any process starts
(a mode that cannot run here becomes a 'skipped' result with its reason, never a crash mid-run),
and the floor runs in this process, in C++, with no rank processes at all.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .harness import ModeResult, Settings, run_mode
from .modes import Mode

NO_GPU = "no CUDA GPU: host receive only, no forward kernel"
NEVER_YIELD = ("PAUSE", "MWAITX", "UMWAIT")  # ring waits that keep their core until the request comes


def unavailable(mode: Mode, settings: Settings) -> str | None:
    """Why ``mode`` cannot run with ``settings`` on this machine, or None when it can.

    A mode whose waiters never give up their core needs a CPU for each rank: with fewer, the waiting
    ranks take the cores rank 0 needs to send, and the run cannot make progress (it ends at its deadline).
    """
    cpus = len(os.sched_getaffinity(0))
    if mode.wait in NEVER_YIELD and settings.ranks > cpus:
        return f"{settings.ranks} ranks that never yield their core need {settings.ranks} CPUs; {cpus} allowed here"
    for need in mode.needs:
        if need == "gpu-per-rank" and settings.gpus < settings.ranks:
            return (f"needs one GPU per rank: {settings.ranks} ranks, {settings.gpus} GPU(s) in use"
                    + ("" if settings.gpus else f" ({NO_GPU})"))
        if need == "torch" and importlib.util.find_spec("torch") is None:
            return "needs torch (pip install 'waitbench[torch]')"
        if need == "pyzmq" and importlib.util.find_spec("zmq") is None:
            return "needs pyzmq (pip install 'waitbench[zmq]')"
        if need in ("mwaitx", "umwait"):
            from .._native import host

            support = getattr(host(), f"{need}_support")()
            if not support["available"]:
                return support["reason"]
    return None


def run_floor(settings: Settings) -> ModeResult:
    """The same-process hand-off floor: one atomic store, a hot thread (launching the forward on a GPU)."""
    import numpy as np

    from .._native import host, native
    from .modes import MODES
    from .ranks import ARRIVAL, COLUMNS, KERNEL_GT, OUTCOME, RECV, WALL

    res = ModeResult(MODES["floor"], {}, settings)
    n, gap_ns = settings.requests, int(1e9 / min(settings.rate_hz, 1e4))
    out = np.zeros((n, COLUMNS), dtype=np.int64)
    if settings.gpus:
        nat = native()
        cal0 = nat.calibrate_clock(0)
        f = nat.forward_floor(0, n, gap_ns, settings.timeout_s)
        res.calibrations[0] = [cal0, nat.calibrate_clock(0)]
        out[:, KERNEL_GT] = f["kernel_gt_ns"]
    else:
        f = host().handoff_floor(n, gap_ns, settings.timeout_s)
    out[:, OUTCOME] = 1
    out[:, ARRIVAL], out[:, RECV] = f["arrival_ns"], f["recv_ns"]
    out[:, WALL] = out[:, RECV] - out[:, ARRIVAL]
    res.ranks[0] = out
    return res


def run_modes(modes: Sequence[tuple[Mode, dict[str, int]]], settings: Settings, *, sampler: Any = None,
              say: Callable[[str], None] = lambda _m: None) -> Iterator[ModeResult]:
    """Each (mode, options) in turn; a mode interrupted by Ctrl-C is yielded, then KeyboardInterrupt goes on."""
    settings.check()
    for mode, options in modes:
        reason = unavailable(mode, settings)
        if reason is not None:
            say(f"{mode.name}: skipped ({reason})")
            yield ModeResult(mode, options, settings, status="skipped", detail=reason)
            continue
        say(f"{mode.name}: running")
        res = run_floor(settings) if mode.transport == "floor" else run_mode(mode, options, settings,
                                                                             sampler=sampler, say=say)
        yield res
        if res.status == "aborted":
            raise KeyboardInterrupt
