# SPDX-License-Identifier: Apache-2.0
"""SYNTHETIC records for testing report, plot and compare logic: NOT measurements.

Every value here is made up to exercise rendering and comparison paths (a stall, a noisy point, a
missing GPM metric, repetitions, a sweep grid). The GPU name and driver say so, so a synthetic record
can never be mistaken for a result. Records are built through ``waitbench.results.new_record``, so
they follow the real schema.
"""

from __future__ import annotations

import copy
from typing import Any

from waitbench import results
from waitbench.strategies import resolve

SYNTHETIC_GPU = "SYNTHETIC GPU (test fixture, not a measurement)"
SYNTHETIC_DRIVER = "0.0.0-synthetic"
SYNTHETIC_SM_COUNT = 132
WORKLOADS = ("gemm", "fma", "stream")
_UNITS = {"gemm": "TFLOP/s", "fma": "TFLOP/s", "stream": "TB/s"}
_SOLO = {"gemm": 600.0, "fma": 50.0, "stream": 3.0}

# (strategy, options, waiter metrics, tput ratio per workload or 'stalled') -- invented values.
_SUITE: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("spin", {}, dict(nvml=100.0, sm=0.8, occ=0.1, obs=(2.0, 3.0, 4.0), rtt=(5.0, 7.0, 9.0), dp=20.0, cpu=0.5,
                      verdict="busy-waiting"), dict(gemm=0.99, fma=0.99, stream=0.98)),
    ("spin", {"blocks": 132, "threads": 1024}, dict(nvml=100.0, sm=100.0, occ=50.0, obs=(2.5, 3.5, 5.0),
                                                    rtt=(5.5, 8.0, 11.0), dp=60.0, cpu=0.5, verdict="busy-waiting"),
     dict(gemm="stalled", fma="stalled", stream=0.30)),
    ("spin-backoff", {}, dict(nvml=100.0, sm=0.8, occ=0.1, obs=(3.0, 12.0, 20.0), rtt=(6.0, 15.0, 25.0), dp=8.0,
                              cpu=0.5, verdict="busy-waiting"), dict(gemm=1.0, fma=0.995, stream=0.99)),
    ("nccl-shaped", {"preset": "simple-16ch"}, dict(nvml=100.0, sm=12.1, occ=6.4, obs=(2.2, 3.1, 4.4),
                                                      rtt=(5.1, 7.2, 9.9), dp=35.0, cpu=0.5, verdict="busy-waiting"),
     dict(gemm=0.88, fma=0.87, stream=0.91)),
    ("stream-wait-value", {}, dict(nvml=0.0, sm=0.0, occ=0.0, obs=(None, None, None), rtt=(9.0, 12.0, 20.0),
                                   dp=0.5, cpu=0.2, verdict="idle"), dict(gemm=1.0, fma=1.0, stream=1.0)),
    ("host-spin", {}, dict(nvml=0.0, sm=None, occ=None, obs=(0.3, 0.6, 1.0), rtt=(8.0, 11.0, 30.0), dp=0.3, cpu=100.0,
                           verdict="idle"), dict(gemm=1.0, fma=0.999, stream=1.0)),
    ("host-block", {}, dict(nvml=0.0, sm=0.0, occ=0.0, obs=(40.0, 80.0, 150.0), rtt=(50.0, 95.0, 170.0), dp=0.2,
                            cpu=0.1, verdict="idle"), dict(gemm=1.0, fma=1.0, stream=0.999)),
]


def _run_fields(run_id: str) -> dict[str, Any]:
    return dict(run_id=run_id, time_utc="2000-01-01T00:00:00+00:00", argv=["synthetic"], hostname="synthetic",
                waitbench_version="0.0.0+synthetic", gpu_index=0, gpu_name=SYNTHETIC_GPU, gpu_uuid="GPU-synthetic",
                gpu_sm_count=SYNTHETIC_SM_COUNT, gpu_cc="9.0", driver_version=SYNTHETIC_DRIVER)


def _subject(strategy: str, options: dict[str, Any]) -> dict[str, Any]:
    _, opts = resolve(strategy, **options)
    return dict(strategy=strategy, preset=opts.get("preset"), options=opts)


def waiter_record(run_id: str, strategy: str, options: dict[str, Any], m: dict[str, Any],
                  rep: int = 0) -> dict[str, Any]:
    obs, rtt = m["obs"], m["rtt"]
    rec = results.new_record(
        record_kind="waiter", **_run_fields(run_id), **_subject(strategy, options), repetition=rep, status="ok",
        window_s=1.0, nvml_util_pct=m["nvml"], gpm_sm_util_pct=m["sm"], gpm_sm_occupancy_pct=m["occ"],
        power_w=70.0 + m["dp"], power_idle_w=70.0, power_delta_w=m["dp"], host_cpu_pct=m["cpu"], verdict=m["verdict"],
        verdict_reason="synthetic", wake_trials=10000, wake_observe_p50_us=obs[0], wake_observe_p99_us=obs[1],
        wake_observe_p999_us=obs[2], wake_rtt_p50_us=rtt[0], wake_rtt_p99_us=rtt[1], wake_rtt_p999_us=rtt[2],
        wake_floor_rtt_p50_us=4.0)
    if m["sm"] is None:
        results.set_null(rec, "synthetic: GPM not available", "gpm_sm_util_pct", "gpm_sm_occupancy_pct")
    if obs[0] is None:
        results.set_null(rec, "synthetic: no device-side observer", "wake_observe_p50_us", "wake_observe_p99_us",
                         "wake_observe_p999_us")
    return rec


def workload_record(run_id: str, strategy: str, options: dict[str, Any], workload: str, ratio: float | str,
                    rep: int = 0, spread_pct: float = 0.4, noisy: bool = False,
                    kind: str = "workload") -> dict[str, Any]:
    solo = _SOLO[workload]
    fields: dict[str, Any] = dict(record_kind=kind, **_run_fields(run_id), **_subject(strategy, options),
                                  workload=workload, repetition=rep, tput_unit=_UNITS[workload], tput_solo=solo,
                                  tput_pairs=10, tput_noisy=noisy)
    if ratio == "stalled":
        rec = results.new_record(status="stalled", status_detail="synthetic stall", stall_ms=9000.0, **fields)
        results.set_null(rec, "synthetic: stalled", "tput_concurrent", "tput_ratio", "tput_ratio_spread_pct")
        return rec
    assert isinstance(ratio, float)
    return results.new_record(status="ok", tput_concurrent=solo * ratio, tput_ratio=ratio,
                              tput_ratio_spread_pct=spread_pct, **fields)


def synthetic_run(run_id: str = "synthetic-run", repetitions: int = 1, scale: dict[str, float] | None = None
                  ) -> list[dict[str, Any]]:
    """A SYNTHETIC quick-suite run: waiter + workload records for a few strategies.

    ``scale`` multiplies one strategy's throughput ratios (by strategy name) to fake a change for compare tests.
    """
    out = []
    for rep in range(repetitions):
        for strategy, options, m, tput in _SUITE:
            out.append(waiter_record(run_id, strategy, options, m, rep))
            for w in WORKLOADS:
                r = tput[w]
                if r != "stalled":
                    r = r * (scale or {}).get(strategy, 1.0) * (1 + 0.001 * rep)
                out.append(workload_record(run_id, strategy, options, w, r, rep, noisy=strategy == "spin-backoff"))
    return out


SWEEP_BLOCKS = (1, 2, 4, 8, 16, 32, 64, 128, 132)
SWEEP_THREADS = (32, 256, 1024)


def synthetic_sweep(run_id: str = "synthetic-sweep") -> list[dict[str, Any]]:
    """A SYNTHETIC launch-shape sweep of spin: ratio falls with blocks x threads; the largest shape stalls."""
    out = []
    for threads in SWEEP_THREADS:
        for blocks in SWEEP_BLOCKS:
            for w in ("fma", "stream"):
                ratio: float | str = max(0.05, 1.0 - blocks * threads / (SYNTHETIC_SM_COUNT * 2048.0))
                if blocks == 132 and threads == 1024 and w == "fma":
                    ratio = "stalled"
                rec = workload_record(run_id, "spin", {"blocks": blocks, "threads": threads}, w, ratio, kind="sweep")
                rec["waiter_blocks"], rec["waiter_threads"] = blocks, threads
                out.append(rec)
    return out


def with_changes(records: list[dict[str, Any]], run_id: str, **changes: Any) -> list[dict[str, Any]]:
    """A copy of ``records`` under a new run_id with fields overwritten in every record (e.g. driver_version)."""
    out = copy.deepcopy(records)
    for rec in out:
        rec["run_id"] = run_id
        rec.update(changes)
    return out


def synthetic_barrier_run(run_id: str = "synthbarrier", gpu: bool = False) -> list[dict[str, Any]]:
    """SYNTHETIC host-barrier records (barrier_latency.py's shape) for two kinds x two rank counts, plus
    a same-run host-block reference on the GPU variant. Invented values, not measurements.
    """
    out = []
    for ranks in (2, 4):
        for kind, opts, base in (("shm-futex", {"spin_us": 50}, 10.0), ("mp-barrier", {}, 30.0)):
            obs = (base * ranks / 2, base * ranks, base * ranks * 2)
            rec = results.new_record(
                **_run_fields(run_id), record_kind="waiter", strategy="host-barrier", preset=None,
                options={"kind": kind, "ranks": ranks, **opts, "gap_us": 200.0, "timeout_s": 30.0},
                strategy_source="builtin", host_wait_in_python=kind == "mp-barrier", repetition=0, status="ok",
                world_size=ranks, wake_trials=2000, wake_observe_p50_us=obs[0], wake_observe_p99_us=obs[1],
                wake_observe_p999_us=obs[2], wake_rtt_p50_us=obs[0] + 10 if gpu else None,
                wake_rtt_p99_us=obs[1] + 10 if gpu else None, wake_rtt_p999_us=obs[2] + 10 if gpu else None,
                wait_host_cpu_pct=5.0, host_cpu_pct=0.02, nvml_util_pct=0.0 if gpu else None,
                extra={"machine": "synthetic", "cpu_count": 2, "gpus": 1 if gpu else 0})
            if not gpu:
                rec["gpu_name"] = rec["driver_version"] = None
            out.append(rec)
    if gpu:
        out.append(waiter_record(run_id, "host-block", {}, _SUITE[-1][2]))
    return out
