# SPDX-License-Identifier: Apache-2.0
"""How one rank's measurements become 'nccl' records of the shared schema.

Why separate from the scenario: a record is built in several places (a measured rank, a side call, a
rank that failed, a mode skipped before it started, a rank that never reported), and each must carry
every field, with None plus a reason wherever there is no number.

One measured episode gives one record per concurrent workload (``workload`` 'fma' or 'gemm'; one
record with ``workload`` None when none ran): the episode's telemetry, wake-up and NCCL kernel shape
are repeated in each, as a 'workload' record of the single-GPU suite carries its strategy's subject.
Field meanings for NCCL (docs/METRICS.md): ``waiter_*`` is the NCCL kernel's launch shape as the
profiler saw it; ``wake_rtt_*`` the time from the late rank's call to this rank seeing the
collective complete, over short late episodes; ``wake_floor_rtt_p50_us`` the same with both ranks
arriving together.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..machine import host_identity, now_utc, run_identity
from ..results import TELEMETRY_FIELDS, WORKLOAD_FIELDS, new_record, set_null
from ..workloads import Throughput
from .config import Cell, ScenarioConfig
from .instruments import Window, classify
from .modes import get_mode

_ENV_PREFIXES = ("NCCL_", "TORCH_NCCL_", "TORCH_SYMM_MEM_", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_MAX_CONNECTIONS")
_TPUT_FIELDS = ("tput_unit", "tput_solo", "tput_concurrent", "tput_ratio", "stall_ms", "tput_pairs")
_SHAPE = {"waiter_blocks": "grid", "waiter_threads": "block", "waiter_regs_per_thread": "regs",
          "waiter_smem_bytes": "smem"}
_WAKE = ("wake_trials", "wake_rtt_min_us", "wake_rtt_p50_us", "wake_rtt_p99_us", "wake_rtt_p999_us",
         "wake_rtt_max_us", "wake_floor_rtt_p50_us")
_NOT_APPLICABLE = {
    "not observable: NCCL's kernel has no per-poller count, SM ids or release timestamp":
        ["waiter_pollers", "waiter_sm_ids", "waiter_distinct_sms", "wake_observe_min_us", "wake_observe_p50_us",
         "wake_observe_p99_us", "wake_observe_p999_us", "wake_observe_max_us", "clock_offset_uncertainty_us",
         "globaltimer_resolution_ns", "wait_host_cpu_pct"],
    "not measured: one concurrent run per workload and episode (no spread or victim shape)":
        [f.name for f in WORKLOAD_FIELDS if f.name not in _TPUT_FIELDS],
}
_SIDE_CALL = ("side_call", "side_call_ms", "side_call_after_late_ms")
# What a rank that took part measures; None with the reason in every other record.
_METRICS = [f.name for f in TELEMETRY_FIELDS] + list(_TPUT_FIELDS) + list(_SHAPE) + list(_WAKE) + list(_SIDE_CALL) + [
    "wait_s", "host_blocked_s", "completion_after_late_us"]
# Percentiles need enough trials: p99 from fewer than 100 is the maximum under another name.
_MIN_TRIALS = {"wake_rtt_p99_us": 100, "wake_rtt_p999_us": 1000}


def base_fields(cfg: ScenarioConfig, rank: int, world_size: int, cell: Cell) -> dict[str, Any]:
    """Identity and subject of a record of this run (the GPU's identity comes from gpu_fields).

    The identity is the package's (waitbench.machine.host_identity) with the user's command line: a
    spawned rank's sys.argv is multiprocessing's.
    """
    mode = get_mode(cfg.mode)
    return {
        **host_identity(cfg.run_id), "argv": list(cfg.argv), "record_kind": "nccl", "time_utc": now_utc(),
        "strategy": mode.name, "strategy_source": "builtin", "host_wait_in_python": False,
        "repetition": 0, "rank": rank, "world_size": world_size,
        "collective": cell.collective, "protocol": cell.protocol, "message_bytes": cell.message_bytes,
        "late_rank": cfg.late_rank, "late_s": cfg.late_s,
        "role": "late" if rank == cfg.late_rank else "waiting", "backend": cfg.backend,
        "options": {"backend": cfg.backend, "collective": cell.collective, "protocol": cell.protocol,
                    "numel": cell.numel, "late_s": cfg.late_s, "late_rank": cfg.late_rank, "dtype": "float32",
                    "entry": mode.entry, "client": mode.client, "env": dict(mode.env)},
        "extra": {"env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(_ENV_PREFIXES)}},
    }


def gpu_fields(gpu: int | None, run_id: str) -> dict[str, Any]:
    """GPU, driver and CUDA identity: the package's own (waitbench.machine), else what torch knows."""
    if gpu is None:
        return {}
    try:
        fields = run_identity(gpu, run_id)
        fields.pop("argv", None)  # a spawned rank's sys.argv is multiprocessing's, not the user's command
        return fields
    except Exception:  # noqa: BLE001 - native core not built: torch still names the GPU
        import torch

        p = torch.cuda.get_device_properties(gpu)
        return {"gpu_index": gpu, "gpu_name": p.name, "gpu_uuid": f"GPU-{p.uuid}",
                "gpu_sm_count": p.multi_processor_count, "gpu_cc": f"{p.major}.{p.minor}"}


def finish_record(base: dict[str, Any], *, status: str, detail: str | None, reason: str | None,
                  extra: dict[str, Any] | None = None, summary: Any = None, idle: Any = None,
                  verdict: Any = None) -> dict[str, Any]:
    """A complete record from ``base``, measured or not.

    Every metric is None with ``reason`` (a measured rank's record fills them afterwards); then the
    telemetry of ``summary`` (a telemetry WindowSummary) with the power over ``idle`` (the idle window's
    summary) and the ``verdict`` go in through WindowSummary.fill_record.
    """
    fields = dict(base)
    fields["extra"] = {**base.get("extra", {}), **(extra or {})}
    rec = new_record(**fields, status=status, status_detail=detail)
    for why, names in _NOT_APPLICABLE.items():
        set_null(rec, why, *names)
    set_null(rec, reason or "not measured", *_METRICS)
    if summary is not None:
        summary.fill_record(rec, idle=idle, verdict=verdict)
    return rec


def skip_record(cfg: ScenarioConfig, rank: int, world_size: int, reason: str) -> dict[str, Any]:
    """The record of a rank of a mode that cannot run here: status 'skipped', the reason as detail."""
    return finish_record(base_fields(cfg, rank, world_size, cfg.cells()[0]), status="skipped", detail=reason,
                         reason=f"skipped: {reason}")


def error_record(cfg: ScenarioConfig, rank: int, world_size: int, detail: str,
                 cell: Cell | None = None) -> dict[str, Any]:
    """The record of a rank whose process failed or never reported (written by the collector)."""
    return finish_record(base_fields(cfg, rank, world_size, cell or cfg.cells()[0]), status="error", detail=detail,
                         reason="the rank failed")


def fill_throughput(rec: dict[str, Any], solo: Sequence[Throughput], conc: Throughput) -> None:
    """The tput_* fields of ``conc``'s workload.

    Solo throughput is the median of the solo runs around the wait; the concurrent one is the run during
    the wait (a stall: stall_ms, and no concurrent throughput).
    """
    unit = conc.unit or next((t.unit for t in solo if t.unit), None)
    solos = [t.value for t in solo if t.value is not None and t.unit == unit]
    rec["extra"][f"solo_{conc.workload}"] = solos
    if conc.value is None and not conc.stalled and not solos:
        set_null(rec, conc.reason or "not measured", *_TPUT_FIELDS)
        return
    rec["workload"] = conc.workload
    _put(rec, "tput_unit", unit)
    _put(rec, "tput_pairs", 1)
    if solos:
        _put(rec, "tput_solo", statistics.median(solos))
    else:
        set_null(rec, next((t.reason for t in solo if t.reason), "no solo run"), "tput_solo")
    if conc.stalled:
        _put(rec, "stall_ms", conc.stall_ms)
    else:
        set_null(rec, "the concurrent workload did not stall", "stall_ms")
    if conc.value is None:
        set_null(rec, conc.reason or "not measured", "tput_concurrent", "tput_ratio")
        return
    _put(rec, "tput_concurrent", conc.value)
    if solos:
        _put(rec, "tput_ratio", conc.value / statistics.median(solos))
    else:
        set_null(rec, rec["null_reasons"]["tput_solo"], "tput_ratio")


def fill_shape(rec: dict[str, Any], shape: dict[str, Any] | None, reason: str | None) -> None:
    """The NCCL kernel's launch shape in the waiter_* fields, its name in extra['nccl_kernel']."""
    if shape is None:
        set_null(rec, reason or "not profiled", *_SHAPE)
        return
    rec["extra"]["nccl_kernel"] = shape.get("kernel")
    rec["extra"]["nccl_kernel_dur_us"] = shape.get("dur_us")
    for name, key in _SHAPE.items():
        if shape.get(key) is None:
            set_null(rec, f"the profiler gave no {key}", name)
        else:
            _put(rec, name, int(shape[key]))


def fill_wake(rec: dict[str, Any], late_us: Sequence[float], aligned_us: Sequence[float], reason: str | None,
              after_enqueue_us: Sequence[float] = ()) -> None:
    """The wake_rtt_* fields from the late-arrival trials (late rank's call -> this rank sees completion).

    The aligned trials' median is the floor; ``extra`` gets the same from the late rank's launch enqueued
    (its call returned: what is left is the GPU's and the waiting rank's part).
    """
    if not late_us:
        set_null(rec, reason or "no wake-up trials", *_WAKE)
        return
    if after_enqueue_us:
        e = np.asarray(after_enqueue_us, dtype=float)
        rec["extra"]["wake_after_enqueue_p50_us"] = float(np.percentile(e, 50))
        rec["extra"]["wake_after_enqueue_min_us"] = float(e.min())
    v = np.asarray(late_us, dtype=float)
    _put(rec, "wake_trials", int(v.size))
    _put(rec, "wake_rtt_min_us", float(v.min()))
    _put(rec, "wake_rtt_max_us", float(v.max()))
    _put(rec, "wake_rtt_p50_us", float(np.percentile(v, 50)))
    for name, q in (("wake_rtt_p99_us", 99), ("wake_rtt_p999_us", 99.9)):
        if v.size >= _MIN_TRIALS[name]:
            _put(rec, name, float(np.percentile(v, q)))
        else:
            set_null(rec, f"{v.size} trials: the {q}th percentile needs {_MIN_TRIALS[name]}", name)
    if aligned_us:
        _put(rec, "wake_floor_rtt_p50_us", float(np.percentile(np.asarray(aligned_us, dtype=float), 50)))
    else:
        set_null(rec, reason or "no aligned trials", "wake_floor_rtt_p50_us")


def episode_records(base: dict[str, Any], *, wait_s: float, host_blocked_s: float,
                    completion_after_late_us: float | None, completion_reason: str | None, idle: Window,
                    window: Window, solo: dict[str, list[Throughput]], conc: dict[str, Throughput], result_ok: bool,
                    shape: dict[str, Any] | None, shape_reason: str | None,
                    wake: tuple[list[float], list[float], list[float]],
                    wake_reason: str | None, no_work_reason: str) -> list[dict[str, Any]]:
    """The records of a rank that took part in an episode: one per concurrent workload.

    Status 'stalled' when the workload was held up by the wait, 'error' when the collective's result was
    wrong.
    """
    verdict, why = classify(window.summary, idle.summary)  # one window: one verdict for every workload's record
    out = []
    for name in conc or [None]:
        c = conc.get(name) if name else None
        extra: dict[str, Any] = {
            "host_cpu_idle_pct": idle.host_cpu_pct,
            # the NVML sampler thread's own share of host_cpu_pct (the cost of measuring), when known
            "sampler_cpu_pct": getattr(window.summary, "sampler_cpu_pct", None),
        }
        status, detail = "ok", None
        if not result_ok:
            status, detail = "error", "the collective returned wrong values"
        elif c is not None and c.stalled:
            status, detail = "stalled", c.reason
        rec = finish_record(base, status=status, detail=detail, extra=extra, reason=window.reason,
                            summary=window.summary, idle=idle.summary, verdict=verdict)
        if verdict is None:
            set_null(rec, why or "no verdict", "verdict", "verdict_reason")
        if c is not None:
            fill_throughput(rec, solo.get(name, []), c)
        else:
            set_null(rec, no_work_reason, *_TPUT_FIELDS)
        fill_shape(rec, shape, shape_reason)
        fill_wake(rec, wake[0], wake[1], wake_reason, wake[2])
        set_null(rec, "not a side-call run (--calls)", *_SIDE_CALL)
        _put(rec, "wait_s", wait_s)
        _put(rec, "host_blocked_s", host_blocked_s)
        _put(rec, "host_cpu_pct", window.host_cpu_pct)
        if rec["window_s"] is None:
            _put(rec, "window_s", window.wall_s)
        if completion_after_late_us is None:
            set_null(rec, completion_reason or "not measured", "completion_after_late_us")
        else:
            _put(rec, "completion_after_late_us", completion_after_late_us)
        out.append(rec)
    return out


def side_call_record(base: dict[str, Any], *, call: str, start_ns: int, return_ns: int, arrival_ns: int,
                     wait_s: float, result_ok: bool) -> dict[str, Any]:
    """The record of one call a waiting rank made during the wait.

    It says how long the call took, and whether it returned during the wait or only after the late rank
    arrived.
    """
    status, detail = ("ok", None) if result_ok else ("error", "the collective returned wrong values")
    rec = finish_record(base, status=status, detail=detail, reason="not measured in a side-call run")
    _put(rec, "side_call", call)
    _put(rec, "side_call_ms", (return_ns - start_ns) / 1e6)
    _put(rec, "side_call_after_late_ms", (return_ns - arrival_ns) / 1e6)
    _put(rec, "wait_s", wait_s)
    return rec


def _put(rec: dict[str, Any], name: str, value: Any) -> None:
    rec[name] = value
    rec["null_reasons"].pop(name, None)
