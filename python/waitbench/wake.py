# SPDX-License-Identifier: Apache-2.0
"""Wake-up latency of a strategy: release -> the waiter observes it, and release -> the host sees its ack.

The round trip (release -> the host sees the GPU's ack) is shown beside the floor (a 1-warp kernel
launched from a hot thread).

The native core runs the trials and takes every timestamp with the GIL released, the timing thread
and a host waiter's thread each pinned to its own physical core while they run; this module
turns them into latencies (research strategies that wait in Python are the one exception: their
trial loop is Python too, in waitbench.custom.host, and their records say so). Device observation times are
%globaltimer readings, mapped onto the host clock by a ping calibration before and after the
trials (offset interpolated in between).
Trials run in chunks so Ctrl-C is honoured between chunks; the waiter is always closed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import checks
from ._native import require_gpu
from .stats import percentiles_us
from .strategies import resolve
from .waiter import Waiter

DEFAULT_TRIALS = 10_000  # enough for a p99 from ~100 samples above it
DEFAULT_WARMUP = 100  # discarded: first launches, page faults, clock ramp
DEFAULT_GAP_US = 20.0  # armed -> release: lets a host waiter reach its blocking call
CHUNK = 500  # trials per native call (Ctrl-C is seen between chunks)
FLOOR_TRIALS = 2000  # a p50 beside every measurement; launch_floor_us() for a full series
MAX_TRIALS = 10_000_000  # ~10^7 trials take minutes; more is a typo, not a measurement
MAX_WARMUP = 1_000_000


@dataclass
class WakeLatency:
    """Samples (us) and calibration of one wake-latency measurement."""

    strategy: str
    options: dict[str, Any]
    observe_us: np.ndarray
    rtt_us: np.ndarray
    floor_rtt_us: np.ndarray
    host_cpu_pct: float | None
    expired: int
    aborted: int
    clock_uncertainty_us: float
    timer_resolution_ns: float

    def record_fields(self) -> dict[str, Any]:
        """The WAKE_FIELDS of a results record."""
        fields: dict[str, Any] = {"wake_trials": int(self.rtt_us.size)}
        fields.update(percentiles_us(self.observe_us * 1e3, "wake_observe"))
        fields.update(percentiles_us(self.rtt_us * 1e3, "wake_rtt"))
        fields["wake_floor_rtt_p50_us"] = float(np.median(self.floor_rtt_us)) if self.floor_rtt_us.size else None
        fields["clock_offset_uncertainty_us"] = self.clock_uncertainty_us
        fields["globaltimer_resolution_ns"] = self.timer_resolution_ns
        fields["wait_host_cpu_pct"] = self.host_cpu_pct
        return fields


def launch_floor_us(gpu: int = 0, trials: int = FLOOR_TRIALS) -> np.ndarray:
    """Round trips (us) of the floor under every path that launches work after waking.

    A hot thread launches a 1-warp kernel that writes the ack, and spins until it sees it (timed in C++,
    after a native warm-up).
    """
    from .errors import invalid

    if not isinstance(trials, int) or trials < 1:
        raise invalid("trials", trials, "an int >= 1")
    return require_gpu(gpu).launch_floor(gpu, trials) / 1e3


def _offset_at(cal0: dict[str, float], cal1: dict[str, float], host_ns: np.ndarray) -> np.ndarray:
    """%globaltimer - host clock at each host time, linear between two calibrations."""
    t0, t1 = cal0["host_ns"], cal1["host_ns"]
    if t1 == t0:
        return np.full(host_ns.shape, cal0["offset_ns"])
    slope = (cal1["offset_ns"] - cal0["offset_ns"]) / (t1 - t0)
    return cal0["offset_ns"] + slope * (host_ns - t0)


def wake_latency(strategy: str, *, gpu: int = 0, trials: int = DEFAULT_TRIALS, warmup: int = DEFAULT_WARMUP,
                 gap_us: float = DEFAULT_GAP_US, progress: Callable[[int, int], None] | None = None,
                 **options: Any) -> WakeLatency:
    """Measure wake-up latency of ``strategy`` over ``trials`` arm/release cycles.

    Args:
        strategy: a name from :func:`waitbench.strategies`; ``options`` are its options.
        gpu: CUDA device index.
        trials: trials kept (after ``warmup`` discarded ones), >= 1.
        warmup: trials run first and discarded (first launches, page faults, clock ramp).
        gap_us: time between "armed" and the release.
        progress: called as ``progress(done, total)`` after each chunk.
        **options: the strategy's options.
    """
    resolve(strategy, **options)  # every argument is checked before the GPU is looked for
    checks.gpu_index("gpu", gpu)
    trials = checks.count("trials", trials, 1, MAX_TRIALS)
    warmup = checks.count("warmup", warmup, 0, MAX_WARMUP)
    gap_us = float(checks.number("gap_us", gap_us, 0.0, 1e6))
    checks.optional_callable("progress", progress, "a function progress(done, total), or None")
    native = require_gpu(gpu)
    resolution = float(native.timer_resolution_ns(gpu))
    floor = launch_floor_us(gpu)
    cal0 = native.calibrate_clock(gpu)
    chunks: list[dict[str, np.ndarray]] = []
    waiter = Waiter(strategy, gpu=gpu, **options)
    device_clock = waiter.device_clock
    try:
        gap_ns = int(gap_us * 1e3)
        if warmup:
            waiter.run_trials(warmup, gap_ns)
        done = 0
        while done < trials:
            n = min(CHUNK, trials - done)
            chunks.append(waiter.run_trials(n, gap_ns))
            done += n
            if progress:
                progress(done, trials)
    finally:
        waiter.close()
    cal1 = native.calibrate_clock(gpu)

    s = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    ok = s["outcome"] == native.OUTCOME_RELEASED
    release = s["release_ns"][ok].astype(np.float64)
    rtt_us = (s["ack_ns"][ok] - s["release_ns"][ok]) / 1e3
    if device_clock:
        observe_ns = s["wake_gt_ns"][ok] - _offset_at(cal0, cal1, release) - release
    else:
        observe_ns = (s["host_observe_ns"][ok] - s["release_ns"][ok]).astype(np.float64)
    cpu, wall = s["wait_cpu_ns"][ok], s["wait_wall_ns"][ok]
    host_cpu = float(100.0 * cpu.sum() / wall.sum()) if wall.size and (cpu >= 0).all() and wall.sum() > 0 else None
    return WakeLatency(
        strategy=strategy,
        options=dict(waiter.options),
        observe_us=observe_ns / 1e3,
        rtt_us=rtt_us.astype(np.float64),
        floor_rtt_us=floor,
        host_cpu_pct=host_cpu,
        expired=int((s["outcome"] == native.OUTCOME_EXPIRED).sum()),
        aborted=int((s["outcome"] == native.OUTCOME_ABORTED).sum()),
        clock_uncertainty_us=max(cal0["uncertainty_ns"], cal1["uncertainty_ns"]) / 1e3,
        timer_resolution_ns=resolution,
    )

