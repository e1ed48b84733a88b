# SPDX-License-Identifier: Apache-2.0
"""Points as results records: strategy ``host-barrier`` with options ``kind`` and ``ranks``.

Why the common schema: ``waitbench report`` and ``compare`` read these files as they read any run,
so a barrier sits in the same table as ``host-block`` and ``nccl-shaped`` measured in the same run
(the GPU leg measures those two as references). The fields mean what they mean for every host wait:

- ``wake_observe_*_us``: the last arrival (the parent's stamp just before its ``wait()``) -> each
  waiting rank's stamp just after its ``wait()`` returned; one sample per waiting rank per round.
- ``wake_rtt_*_us`` (GPU leg): the last arrival -> each rank sees the ack of the kernel it launched
  once released.
- ``wait_host_cpu_pct``: CPU time of each rank's waiting thread per wall second inside ``wait()``
  over the timed rounds (a spin longer than the gap shows here).
- ``host_cpu_pct``: CPU time of each rank's whole process per wall second while the parent held
  the idle round open (what an idle server's rank burns), mean over the ranks.
- ``nvml_util_pct`` etc. (GPU leg): the parent's NVML window over that idle round, the GPU the ranks
  use with the highest reading.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .. import results
from ..machine import now_utc
from ..stats import percentiles_us
from ..telemetry.summary import fill_from_busiest
from .harness import PointResult, PointSettings
from .kinds import WAITS_IN_PYTHON
from .ranks import ACK, NATIVE_RELEASE, NATIVE_WAKE, PROCESS_CPU, THREAD_CPU, WAKE, WALL

STRATEGY = "host-barrier"
_SHAPE_KEYS = ("waiter_blocks", "waiter_threads", "waiter_pollers", "waiter_regs_per_thread", "waiter_smem_bytes",
               "waiter_sm_ids", "waiter_distinct_sms")


def _pct(cpu: np.ndarray, wall: np.ndarray) -> float | None:
    total = float(wall.sum())
    return 100.0 * float(cpu.sum()) / total if total > 0 else None


def point_record(res: PointResult, settings: PointSettings, identity: dict[str, Any], *, machine: str,
                 floor_rtt_p50_us: float | None = None,
                 no_telemetry: str = "CPU leg: no GPU telemetry") -> dict[str, Any]:
    """The 'waiter' record of one point (``no_telemetry``: why telemetry fields are None without windows)."""
    p = res.point
    rounds = np.stack([s.rounds for s in res.ranks])  # (waiting ranks, rounds, columns)
    observe_ns = rounds[:, :, WAKE] - res.release_ns[None, :]
    options = {"kind": p.kind, "ranks": p.ranks, **p.options, "gap_us": settings.gap_us,
               "timeout_s": settings.timeout_s}
    last = observe_ns.max(axis=0)
    extra: dict[str, Any] = {
        "machine": machine, "cpu_count": os.cpu_count(), "loadavg_1m": os.getloadavg()[0],
        "samples": int(observe_ns.size), "waiting_ranks": len(res.ranks), "gpus": settings.gpus,
        **{k.replace("wake_observe", "last_rank_observe"): v for k, v in percentiles_us(last, "wake_observe").items()},
        "per_rank_observe_p50_us": [float(np.median(o)) / 1e3 for o in observe_ns],
        "rank_process_cpu_pct": _pct(rounds[:, :, PROCESS_CPU], rounds[:, :, WALL]),
        "idle_thread_cpu_pct": float(np.mean([100.0 * s.idle_thread_cpu_ns / s.idle_wall_ns for s in res.ranks])),
        "idle_s": settings.idle_s,
        # how long each rank had been waiting when the last one arrived (the gap, as it really was)
        "waited_p50_us": float(np.median(res.release_ns[None, :] - (rounds[:, :, WAKE] - rounds[:, :, WALL]))) / 1e3,
    }
    if rounds[:, :, NATIVE_WAKE].any():  # shm-futex: the barrier's own C++ stamps, release -> wake
        native = rounds[:, :, NATIVE_WAKE] - rounds[:, :, NATIVE_RELEASE]
        extra.update({k.replace("wake_observe", "native_observe"): v
                      for k, v in percentiles_us(native, "wake_observe").items()})
    fields: dict[str, Any] = {
        "record_kind": "waiter", "strategy": STRATEGY, "preset": None, "options": options,
        "strategy_source": "builtin", "host_wait_in_python": p.kind in WAITS_IN_PYTHON, "repetition": 0,
        "status": "ok", "world_size": p.ranks, "wake_trials": int(res.release_ns.size),
        **percentiles_us(observe_ns.ravel(), "wake_observe"),
        "wait_host_cpu_pct": _pct(rounds[:, :, THREAD_CPU], rounds[:, :, WALL]),
        "host_cpu_pct": float(np.mean([100.0 * s.idle_process_cpu_ns / s.idle_wall_ns for s in res.ranks])),
        "wake_floor_rtt_p50_us": floor_rtt_p50_us, "extra": extra,
    }
    if settings.gpus:
        fields.update(percentiles_us((rounds[:, :, ACK] - res.release_ns[None, :]).ravel(), "wake_rtt"))
    rec = results.new_record(time_utc=now_utc(), **identity, **fields)
    if not settings.gpus:
        results.set_null(rec, "CPU leg: no GPU, no kernel to acknowledge", "wake_rtt_min_us", "wake_rtt_p50_us",
                         "wake_rtt_p99_us", "wake_rtt_p999_us", "wake_rtt_max_us", "wake_floor_rtt_p50_us")
    results.set_null(rec, "host clocks only: no device timestamp is taken", "clock_offset_uncertainty_us",
                     "globaltimer_resolution_ns")
    results.set_null(rec, "not a device-resident waiter: no launch shape", *_SHAPE_KEYS)
    _fill_telemetry(rec, res.idle_windows, no_telemetry)
    return rec


def _fill_telemetry(rec: dict[str, Any], windows: dict[str, Any] | None, no_telemetry: str) -> None:
    if not fill_from_busiest(rec, windows, no_telemetry):
        return
    rec["extra"]["nvml_util_pct_per_gpu"] = {s.uuid: s.nvml_util_pct for s in windows.values()}
    results.set_null(rec, "no idle baseline window in a barrier run", "power_idle_w", "power_delta_w")
    results.set_null(rec, "the rank processes hold contexts on the GPU: a verdict would read 'shared' by design",
                     "verdict", "verdict_reason", "verdict_inputs")
