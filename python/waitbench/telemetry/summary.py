# SPDX-License-Identifier: Apache-2.0
"""The summary of one telemetry window of one GPU: window means, statistics and the raw series.

Why a plain dataclass with a dict form: the verdict, Monitor, diagnose (live or replayed from a
file) and results records all read the same object, and a recorded window loads back unchanged on
a machine without a GPU. Every metric that could not be measured is ``None`` with its reason in
``null_reasons``; every name carries its unit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..metrics import SUMMARIZED, TELEMETRY_METRICS
from ..results import set_null
from .gpm import GPM_FIELDS

if TYPE_CHECKING:
    from .verdict import Verdict

# Series whose percentiles mean something (a distribution over the window); others get mean/max only.
PERCENTILE_SERIES = ("nvml_util_pct", "power_instant_w", "power_energy_w", *GPM_FIELDS,
                     *(m.name for m in SUMMARIZED if m.summarize == "mean"))


@dataclass
class WindowSummary:
    """One window of one GPU. Means over the window unless the name or comment says otherwise."""

    uuid: str
    index: int | None  # CUDA index when the GPU was named by one, else None
    name: str
    window_s: float
    nvml_index: int | None = None
    pci_bus_id: str | None = None
    start_time_utc: str | None = None
    # NVML utilization samples (nvmlDeviceGetSamples): share of each driver period a kernel was resident.
    nvml_util_pct: float | None = None
    nvml_mem_util_pct: float | None = None
    # GPM over the whole window (first sample at begin, last at end).
    gpm_graphics_util_pct: float | None = None
    gpm_sm_util_pct: float | None = None
    gpm_sm_occupancy_pct: float | None = None
    gpm_tensor_util_pct: float | None = None
    gpm_fp64_util_pct: float | None = None
    gpm_fp32_util_pct: float | None = None
    gpm_fp16_util_pct: float | None = None
    gpm_int_util_pct: float | None = None
    gpm_dram_bw_util_pct: float | None = None
    gpm_pcie_tx_mib_s: float | None = None
    gpm_pcie_rx_mib_s: float | None = None
    # PCIe traffic as NVML reports it without GPM (nvmlDeviceGetPcieThroughput, a 20 ms sample, mean of reads).
    pcie_tx_mib_s: float | None = None
    pcie_rx_mib_s: float | None = None
    power_w: float | None = None  # energy counter delta / window
    power_instant_w: float | None = None  # mean of nvmlDeviceGetPowerUsage readings (a trailing average)
    power_limit_w: float | None = None
    sm_clock_mhz: float | None = None
    mem_clock_mhz: float | None = None
    temperature_c: float | None = None  # maximum over the window
    throttle_reasons: list[str] = field(default_factory=list)  # every clock-event reason seen in the window
    processes: list[dict[str, Any]] = field(default_factory=list)  # compute processes seen at begin or end
    observer_pid: int | None = None  # the process that measured (its own entry is not "another process")
    host_process_cpu_pct: float | None = None
    host_thread_cpu_pct: float | None = None
    host_thread_name: str | None = None
    sampler_cpu_pct: float | None = None  # the sampler thread's own CPU use: the cost of measuring
    util_period_s: float | None = None  # measured spacing of the driver's utilization samples
    energy_period_s: float | None = None  # measured update period of the energy counter
    gpm_interval_s: float | None = None  # spacing of the periodic GPM samples in this window
    warnings: list[str] = field(default_factory=list)
    null_reasons: dict[str, str] = field(default_factory=dict)
    stats: dict[str, dict[str, float]] = field(default_factory=dict)
    series: dict[str, list[list[float]]] = field(default_factory=dict)  # name -> [[t_s from begin, value], ...]

    def to_dict(self, *, series: bool = True) -> dict[str, Any]:
        """A JSON-ready dict (``series=False`` leaves the raw series out, for compact output)."""
        d = dataclasses.asdict(self)
        if not series:
            d.pop("series")
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WindowSummary:
        """Rebuild a summary written by :meth:`to_dict`; ValueError if required keys are missing."""
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [n for n in ("uuid", "index", "name", "window_s") if n not in data]
        if missing:
            raise ValueError(f"window summary lacks key(s) {missing}")
        return cls(**{k: v for k, v in data.items() if k in names})

    def null(self, name: str, reason: str) -> None:
        """Mark one metric as not measured, with the reason."""
        setattr(self, name, None)
        self.null_reasons[name] = reason

    def other_processes(self) -> list[dict[str, Any]]:
        """Compute processes on this GPU other than the observer."""
        return [p for p in self.processes if p.get("pid") != self.observer_pid]

    def power_over_idle(self, idle: WindowSummary | None) -> tuple[float | None, float | None]:
        """(the idle baseline's power, this window's power over it), each None where unknown.

        The one place power over idle is computed: verdicts, diagnose rows and every record read it.
        """
        idle_w = idle.power_w if idle is not None else None
        return idle_w, (self.power_w - idle_w if self.power_w is not None and idle_w is not None else None)

    def record_fields(self) -> dict[str, Any]:
        """The record fields this window fills by itself: each metric of the table read from the window."""
        return {m.name: getattr(self, m.window) for m in TELEMETRY_METRICS if m.window}

    def fill_record(self, rec: dict[str, Any], *, idle: WindowSummary | None = None,
                    verdict: Verdict | None = None) -> None:
        """Write this window, the idle baseline's power and the verdict into a results record.

        The one way telemetry becomes record fields (the runner's records, the nccl ranks'). Every
        telemetry field left None gets its reason through ``results.set_null``; a field that gets a
        value loses any reason the record held for it.
        """
        values = self.record_fields()
        reasons = {m.name: self.null_reasons.get(m.window, "not measured") for m in TELEMETRY_METRICS if m.window}
        reasons["host_cpu_pct"] = self.null_reasons.get("host_thread_cpu_pct", "no host thread was named")
        values["power_idle_w"], values["power_delta_w"] = self.power_over_idle(idle)
        reasons["power_idle_w"] = "no idle baseline window" if idle is None else idle.null_reasons.get("power_w", "")
        reasons["power_delta_w"] = "needs power_w and an idle baseline"
        values["verdict"] = verdict.verdict if verdict is not None else None
        values["verdict_reason"] = verdict.reason if verdict is not None else None
        values["verdict_inputs"] = verdict.inputs if verdict is not None else None
        reasons["verdict"] = reasons["verdict_reason"] = reasons["verdict_inputs"] = "no verdict was computed"
        for key, value in values.items():
            if value is None:
                set_null(rec, reasons[key] or "not measured", key)
            else:
                rec[key] = value
                rec["null_reasons"].pop(key, None)



def series_stats(points: Sequence[Sequence[float]], *, percentiles: bool) -> dict[str, float]:
    """Mean, max, min (and p50/p95 where a distribution means something) of a ``[[t, v], ...]`` series."""
    values = np.asarray([p[1] for p in points], dtype=float)
    if values.size == 0:
        return {}
    out = {"n": float(values.size), "mean": float(values.mean()), "min": float(values.min()),
           "max": float(values.max())}
    if percentiles:
        p50, p95 = np.percentile(values, [50, 95])
        out.update(p50=float(p50), p95=float(p95))
    return out


def fill_from_busiest(rec: dict[str, Any], windows: dict[str, WindowSummary] | None, no_telemetry: str) -> bool:
    """Fill a record of several rank processes from the busiest GPU's window, keeping the ranks' own host CPU.

    Why the busiest: such a record stands for the group, and a GPU that waits reads higher than one that
    idles; ``host_cpu_pct`` stays what the ranks measured of their own processes (a window's is the
    parent's). Without windows, every telemetry field is None with ``no_telemetry``; returns whether any.
    """
    host_cpu, reason = rec["host_cpu_pct"], rec["null_reasons"].get("host_cpu_pct")
    if not windows:
        set_null(rec, no_telemetry, *(m.name for m in TELEMETRY_METRICS if m.name != "host_cpu_pct"))
        return False
    max(windows.values(), key=lambda w: w.nvml_util_pct or 0.0).fill_record(rec)
    rec["host_cpu_pct"] = host_cpu
    rec["null_reasons"].pop("host_cpu_pct", None)
    if reason:
        rec["null_reasons"]["host_cpu_pct"] = reason
    return True
