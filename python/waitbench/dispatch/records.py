# SPDX-License-Identifier: Apache-2.0
"""A mode's run as one 'dispatch' record of the common schema (strategy = the mode's name).

What the numbers are (every rank's stamps are CLOCK_MONOTONIC, one clock for all processes):

- ``dispatch_recv_*_us``: a request's arrival on rank 0 -> each receiving rank's (>= 1) host receive,
  the measured stream only (warm-up and the max-rate phase left out); rank 0's own (when its hand-off
  returned) is in ``dispatch_per_rank`` and in the last rank's.
- ``dispatch_kernel_*_us``: arrival -> each rank's forward kernel start: its %globaltimer stamp put on
  the host clock by the rank's own calibrations before and after the run (linear between them).
  ``dispatch_launch_*``: host receive -> kernel start, where ranks sharing one GPU wait for its
  switch between their contexts (and MPS, where it runs, removes that switch).
- ``host_cpu_pct``: each rank's whole-process CPU per wall second during the idle window, mean over
  the ranks >= 1 (rank 0 sleeps until its next request); per rank in ``dispatch_per_rank``.
- Telemetry (``nvml_util_pct``, ``gpm_sm_util_pct``, ``power_delta_w`` ...): the parent's window over
  the idle window, on the GPU with the highest utilization, power over the warm-idle baseline.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .. import results
from ..machine import now_utc
from ..stats import percentiles_us
from ..telemetry.summary import fill_from_busiest
from ..wake import _offset_at
from .harness import ModeResult
from .ranks import ARRIVAL, KERNEL_GT, OFF_CPU, PROC_CPU, RECV, WALL
from .suite import NO_GPU

STATS = ("p50", "p99", "p999")
_SHAPE_KEYS = ("waiter_blocks", "waiter_threads", "waiter_pollers", "waiter_regs_per_thread", "waiter_smem_bytes",
               "waiter_sm_ids", "waiter_distinct_sms")
_WAKE_KEYS = tuple(f.name for f in results.WAKE_FIELDS if f.name != "wake_trials")
_TPUT_KEYS = tuple(f.name for f in results.WORKLOAD_FIELDS)


def _q(samples_ns: np.ndarray, prefix: str) -> dict[str, float | None]:
    full = percentiles_us(np.asarray(samples_ns, dtype=np.float64), prefix)
    return {f"{prefix}_{q}_us": full[f"{prefix}_{q}_us"] for q in STATS}


def _kernel_host_ns(res: ModeResult, rank: int, rows: np.ndarray) -> np.ndarray | None:
    cals = res.calibrations.get(rank) or []
    if len(cals) < 2 or not rows[:, KERNEL_GT].any():
        return None
    return rows[:, KERNEL_GT] - _offset_at(cals[0], cals[-1], rows[:, RECV].astype(np.float64))


def _measured(res: ModeResult) -> dict[int, np.ndarray]:
    """Each rank's rows of the measured stream (warm-up before it, the closed-loop phase after it)."""
    if res.mode.transport == "floor":
        return dict(res.ranks)
    lo, hi = res.settings.warmup, res.settings.warmup + res.settings.requests
    return {r: rows[lo:hi] for r, rows in sorted(res.ranks.items())}


def _max_rate_hz(res: ModeResult) -> float | None:
    m = res.settings.max_rate_requests
    rows = res.ranks.get(0)
    if res.mode.transport == "floor" or not m or rows is None or len(rows) < len(res.settings.offsets_ns()):
        return None
    first = int(rows[-m, ARRIVAL])
    return float(m * 1e9 / (res.end_ns - first)) if res.end_ns > first else None


def dispatch_record(res: ModeResult, identity: dict[str, Any], *, cpu_model: str, machine: str,
                    no_telemetry: str = NO_GPU, idle_power_w: float | None = None) -> dict[str, Any]:
    """The 'dispatch' record of one mode's run.

    ``no_telemetry``: why telemetry fields are None without windows; ``idle_power_w``: the GPU's power
    in the warm-idle baseline window (no rank process), for ``power_delta_w``.
    """
    s = res.settings
    options = {**res.options, "ranks": 1 if res.mode.transport == "floor" else s.ranks, "pattern": s.pattern,
               "rate_hz": s.rate_hz, "burst_size": s.burst_size, "requests": s.requests, "warmup": s.warmup,
               "idle_s": s.idle_s, "work_us": s.work_us, "seed": s.seed, "timeout_s": s.timeout_s}
    rows = _measured(res)
    n = min((len(r) for r in rows.values()), default=0)
    fields: dict[str, Any] = {
        "record_kind": "dispatch", "strategy": res.mode.name, "preset": None, "options": options,
        "strategy_source": "builtin", "host_wait_in_python": res.mode.transport in ("gloo", "nccl", "zmq"),
        "repetition": 0, "status": res.status, "status_detail": res.detail or None,
        "world_size": options["ranks"], "cpu_model": cpu_model, "dispatch_requests": n,
    }
    extra: dict[str, Any] = {"machine": machine, "cpu_count": os.cpu_count(), "loadavg_1m": os.getloadavg()[0],
                             "mode_doc": res.mode.doc, "mode_source": res.mode.source, "gpus": s.gpus,
                             "mps": bool(os.environ.get("CUDA_MPS_PIPE_DIRECTORY")
                                         or os.path.exists("/tmp/nvidia-mps/control"))}
    rec = results.new_record(time_utc=now_utc(), **identity, **fields, extra=extra)
    kernel_reason = NO_GPU if not s.gpus else "no calibrated kernel stamps came back"
    if n == 0:
        reason = res.detail or "no request completed"
        results.set_null(rec, reason, *[f.name for f in results.DISPATCH_FIELDS
                                        if f.name not in ("cpu_model", "dispatch_requests")])
    else:
        _fill_latencies(rec, res, {r: v[:n] for r, v in rows.items()}, kernel_reason)
    results.set_null(rec, "not a device-resident waiter: no launch shape", *_SHAPE_KEYS)
    results.set_null(rec, "a dispatch record: see the dispatch_* fields", *_WAKE_KEYS, "wake_trials")
    results.set_null(rec, "waitbench dispatch does not run a concurrent workload yet", *_TPUT_KEYS)
    _fill_telemetry(rec, res.windows, no_telemetry)
    if rec["power_w"] is not None and idle_power_w is not None:
        rec["power_idle_w"], rec["power_delta_w"] = idle_power_w, rec["power_w"] - idle_power_w
        for k in ("power_idle_w", "power_delta_w"):
            rec["null_reasons"].pop(k, None)
    return rec


def _fill_latencies(rec: dict[str, Any], res: ModeResult, rows: dict[int, np.ndarray], kernel_reason: str) -> None:
    recv = np.stack([v[:, RECV] - v[:, ARRIVAL] for v in rows.values()])  # (ranks, requests)
    receivers = [i for i, r in enumerate(rows) if r != 0] or [0]  # rank 0 is the sender
    rec.update(_q(recv[receivers].ravel(), "dispatch_recv"))
    rec.update(_q(recv.max(axis=0), "dispatch_last_recv"))
    kernels = {r: _kernel_host_ns(res, r, v) for r, v in rows.items()}
    per_rank: list[dict[str, Any]] = []
    idle = _idle_cpu_pct(res)
    for i, (r, v) in enumerate(rows.items()):
        entry: dict[str, Any] = {"rank": r, **_q(recv[i], "recv"), "idle_cpu_pct": idle.get(r),
                                 "off_cpu_ratio": float(np.mean(v[:, OFF_CPU] > 0))}
        k = kernels[r]
        entry.update(_q(k - v[:, ARRIVAL], "kernel") if k is not None else dict.fromkeys(
            ("kernel_p50_us", "kernel_p99_us", "kernel_p999_us")))
        per_rank.append(entry)
    rec["dispatch_per_rank"] = per_rank
    waiting = [v for r, v in rows.items() if r != 0] or list(rows.values())
    rec["dispatch_off_cpu_ratio"] = float(np.mean(np.concatenate([v[:, OFF_CPU] for v in waiting]) > 0))
    rec["dispatch_max_rate_hz"] = _max_rate_hz(res)
    if rec["dispatch_max_rate_hz"] is None:
        results.set_null(rec, "no closed-loop phase measured" if res.mode.transport != "floor"
                         else "the floor is a single hand-off path, not a rank group", "dispatch_max_rate_hz")
    if all(k is not None for k in kernels.values()):
        kern = np.stack([kernels[r] - v[:, ARRIVAL] for r, v in rows.items()])
        launch = np.stack([kernels[r] - v[:, RECV] for r, v in rows.items()])
        rec.update(_q(kern.ravel(), "dispatch_kernel"))  # every rank: rank 0's forward is dispatched too
        rec.update(_q(kern.max(axis=0), "dispatch_last_kernel"))
        full = percentiles_us(launch.ravel().astype(np.float64), "l")
        rec["dispatch_launch_p50_us"], rec["dispatch_launch_p99_us"] = full["l_p50_us"], full["l_p99_us"]
    else:
        results.set_null(rec, kernel_reason, *[f"dispatch_{w}_{q}_us" for w in ("kernel", "last_kernel")
                                               for q in STATS], "dispatch_launch_p50_us", "dispatch_launch_p99_us")
    cpus = [v for r, v in idle.items() if r != 0 and v is not None]
    rec["host_cpu_pct"] = float(np.mean(cpus)) if cpus else None
    if rec["host_cpu_pct"] is None:
        results.set_null(rec, "no idle window (the floor has no rank processes)", "host_cpu_pct")


def _idle_cpu_pct(res: ModeResult) -> dict[int, float | None]:
    """Each rank's process CPU per wall second over its wait for the first request after the idle window."""
    i = res.settings.warmup
    out: dict[int, float | None] = {}
    for r, v in res.ranks.items():
        ok = res.mode.transport != "floor" and len(v) > i and v[i, WALL] > 0
        out[r] = float(100.0 * v[i, PROC_CPU] / v[i, WALL]) if ok else None
    return out


def _fill_telemetry(rec: dict[str, Any], windows: dict[str, Any] | None, no_telemetry: str) -> None:
    if not fill_from_busiest(rec, windows, no_telemetry):
        return
    rec["extra"]["nvml_util_pct_per_gpu"] = {w.uuid: w.nvml_util_pct for w in windows.values()}
    results.set_null(rec, "the rank processes hold contexts on the GPU: a verdict would read 'shared' by design",
                     "verdict", "verdict_reason", "verdict_inputs")
