# SPDX-License-Identifier: Apache-2.0
"""How one rank's measurements become one 'nccl' record of the shared schema.

Why separate from the scenario: a record is built in four places (a measured rank, a rank that
failed, a mode skipped before it started, a rank that never reported), and each must carry every
field, with None plus a reason wherever there is no number.
"""

from __future__ import annotations

import os
import platform
import socket
import statistics
from typing import Any

from .. import __version__
from ..machine import git_sha, now_utc
from ..results import SHAPE_FIELDS, TELEMETRY_FIELDS, WAKE_FIELDS, WORKLOAD_FIELDS, new_record, set_null
from .config import ScenarioConfig
from .modes import get_mode
from .probes import WORKLOAD, Throughput, Window, classify

_ENV_PREFIXES = ("NCCL_", "TORCH_NCCL_", "TORCH_SYMM_MEM_", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_MAX_CONNECTIONS")
# The concurrent workload's figures (one fma run during the wait against the median of the solo runs
# before and after it) go in the shared workload fields, so reports read them like any throughput.
_TPUT_FIELDS = ("tput_unit", "tput_solo", "tput_concurrent", "tput_ratio", "stall_ms")
_TPUT_UNIT = "TFLOP/s"
_NOT_APPLICABLE = {
    "not observed: the waiter is NCCL's own kernel": [f.name for f in SHAPE_FIELDS],
    "not an nccl metric: see completion_after_late_us": [f.name for f in WAKE_FIELDS],
    "not measured: one concurrent fma run per rank (no pairs, spread or victim shape)":
        [f.name for f in WORKLOAD_FIELDS if f.name not in _TPUT_FIELDS],
}
# What a rank that took part measures; None with the reason in every other record.
_METRICS = [f.name for f in TELEMETRY_FIELDS] + list(_TPUT_FIELDS) + [
    "wait_s", "host_blocked_s", "completion_after_late_us"]


def base_fields(cfg: ScenarioConfig, rank: int, world_size: int) -> dict[str, Any]:
    """Identity and subject of a record of this run (the GPU's identity comes from gpu_fields)."""
    mode = get_mode(cfg.mode)
    try:
        import torch

        torch_version: str | None = torch.__version__
    except ImportError:
        torch_version = None
    return {
        "record_kind": "nccl", "run_id": cfg.run_id, "time_utc": now_utc(), "argv": list(cfg.argv),
        "hostname": socket.gethostname(), "waitbench_version": __version__, "git_sha": git_sha(),
        "python_version": platform.python_version(), "torch_version": torch_version,
        "strategy": mode.name, "repetition": 0, "rank": rank, "world_size": world_size,
        "collective": cfg.collective, "late_rank": cfg.late_rank, "late_s": cfg.late_s,
        "role": "late" if rank == cfg.late_rank else "waiting", "backend": cfg.backend,
        "options": {"backend": cfg.backend, "collective": cfg.collective, "late_s": cfg.late_s,
                    "late_rank": cfg.late_rank, "numel": cfg.numel, "dtype": "float32", "entry": mode.entry,
                    "client": mode.client, "env": dict(mode.env)},
        "extra": {"env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(_ENV_PREFIXES)}},
    }


def gpu_fields(gpu: int | None, run_id: str) -> dict[str, Any]:
    """GPU, driver and CUDA identity: the package's own (waitbench.machine), else what torch knows."""
    if gpu is None:
        return {}
    try:
        from ..machine import run_identity

        fields = run_identity(gpu, run_id)
        fields.pop("argv", None)  # a spawned rank's sys.argv is multiprocessing's, not the user's command
        return fields
    except Exception:  # noqa: BLE001 - native core not built: torch still names the GPU
        import torch

        p = torch.cuda.get_device_properties(gpu)
        return {"gpu_index": gpu, "gpu_name": p.name, "gpu_uuid": f"GPU-{p.uuid}",
                "gpu_sm_count": p.multi_processor_count, "gpu_cc": f"{p.major}.{p.minor}"}


def finish_record(base: dict[str, Any], *, status: str, detail: str | None, reason: str | None,
                  extra: dict[str, Any] | None = None, summary: Any = None) -> dict[str, Any]:
    """A complete record from ``base``: telemetry from ``summary`` (a telemetry WindowSummary), every
    other metric None with ``reason`` (a measured rank's record fills them afterwards)."""
    fields = dict(base)
    fields["extra"] = {**base.get("extra", {}), **(extra or {})}
    rec = new_record(**fields, status=status, status_detail=detail)
    for why, names in _NOT_APPLICABLE.items():
        set_null(rec, why, *names)
    set_null(rec, reason or "not measured", *_METRICS)
    if summary is not None:
        for name, value in summary.record_fields().items():
            if name in rec and value is not None:
                _put(rec, name, value)
        for name, why in getattr(summary, "null_reasons", {}).items():
            if name in rec["null_reasons"]:
                rec["null_reasons"][name] = why
    return rec


def skip_record(cfg: ScenarioConfig, rank: int, world_size: int, reason: str) -> dict[str, Any]:
    """The record of a rank of a mode that cannot run here: status 'skipped', the reason as detail."""
    return finish_record(base_fields(cfg, rank, world_size), status="skipped", detail=reason,
                         reason=f"skipped: {reason}")


def error_record(cfg: ScenarioConfig, rank: int, world_size: int, detail: str) -> dict[str, Any]:
    """The record of a rank whose process failed or never reported (written by the collector)."""
    return finish_record(base_fields(cfg, rank, world_size), status="error", detail=detail,
                         reason="the rank failed")


def fill_throughput(rec: dict[str, Any], solo: list[Throughput], conc: Throughput) -> None:
    """The tput_* fields from the solo runs and the concurrent run during the wait (a stall: stall_ms,
    and no concurrent throughput); each solo run's TFLOP/s goes in extra['solo_fma_tflops']."""
    solos = [t.value for t in solo if t.value is not None and t.unit == _TPUT_UNIT]
    rec["extra"]["solo_fma_tflops"] = solos
    if conc.unit is not None and conc.unit != _TPUT_UNIT:
        set_null(rec, f"the {WORKLOAD} workload reported {conc.unit}, expected {_TPUT_UNIT}", *_TPUT_FIELDS)
        return
    if conc.value is None and not conc.stalled and not solos:
        set_null(rec, conc.reason or "not measured", *_TPUT_FIELDS)
        return
    rec["workload"] = WORKLOAD
    _put(rec, "tput_unit", _TPUT_UNIT)
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


def measured_record(base: dict[str, Any], *, wait_s: float, host_blocked_s: float,
                    completion_after_late_us: float | None, completion_reason: str | None, idle: Window,
                    window: Window, solo: list[Throughput], conc: Throughput, result_ok: bool) -> dict[str, Any]:
    """The record of a rank that took part in the collective (status 'stalled' when the concurrent
    workload was held up by the wait, 'error' when the collective's result was wrong)."""
    extra: dict[str, Any] = {
        "host_cpu_idle_pct": idle.host_cpu_pct,
        # the NVML sampler thread's own share of host_cpu_pct (the cost of measuring), when known
        "sampler_cpu_pct": getattr(window.summary, "sampler_cpu_pct", None),
    }
    status, detail = "ok", None
    if not result_ok:
        status, detail = "error", "the collective returned wrong values"
    elif conc.stalled:
        status, detail = "stalled", conc.reason
    rec = finish_record(base, status=status, detail=detail, extra=extra, reason=window.reason,
                        summary=window.summary)
    fill_throughput(rec, solo, conc)
    _put(rec, "wait_s", wait_s)
    _put(rec, "host_blocked_s", host_blocked_s)
    _put(rec, "host_cpu_pct", window.host_cpu_pct)
    if rec["window_s"] is None:
        _put(rec, "window_s", window.wall_s)
    idle_w = getattr(idle.summary, "power_w", None)
    if idle_w is not None and rec["power_w"] is not None:
        _put(rec, "power_idle_w", idle_w)
        _put(rec, "power_delta_w", rec["power_w"] - idle_w)
    verdict, why = classify(window.summary, idle.summary)
    if verdict is None:
        set_null(rec, why or "no verdict", "verdict", "verdict_reason")
    else:
        _put(rec, "verdict", verdict)
        _put(rec, "verdict_reason", why)
    if completion_after_late_us is None:
        set_null(rec, completion_reason or "not measured", "completion_after_late_us")
    else:
        _put(rec, "completion_after_late_us", completion_after_late_us)
    return rec


def _put(rec: dict[str, Any], name: str, value: Any) -> None:
    rec[name] = value
    rec["null_reasons"].pop(name, None)
