# SPDX-License-Identifier: Apache-2.0
"""The one table of measured telemetry fields: each declared once, everything else derives from it.

Why a table: a metric used to be spelled in eight files (the window, its summary, the record
schema, the compact readers, the report, diagnose's rows and renderer, the Prometheus exporter).
Now an entry here says its name (with its unit), JSON type, source, doc line and where it is shown;
``results.TELEMETRY_FIELDS``, ``WindowSummary.record_fields``, the window's summary statistics,
``report.compact.READ_FIELDS``, diagnose's rows (and ``--json``) and the exporter's gauges read it.
Adding one means: measure it (``telemetry/window.py``, its ``WindowSummary`` attribute), add its
entry here, and document it in docs/METRICS.md (the test of this table checks that it is there).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gauge:
    """A per-GPU Prometheus gauge of a metric: ``value * scale`` under ``name`` (base units, ``waitbench_*``)."""

    name: str
    help: str
    scale: float = 1.0


@dataclass(frozen=True)
class Metric:
    """One telemetry field of a record.

    ``window``: the ``WindowSummary`` attribute the record copies (None: computed when the record is
    filled, from the idle baseline or the verdict). ``summarize``: for a series the window reduces
    itself, "mean" or "max" of its readings. ``diagnose``: a key of diagnose's rows and ``--json``.
    ``report``: read by ``report`` and ``compare`` (kept in compact records). ``gauge``: the
    exporter's gauge of it, where it has one.
    """

    name: str
    kind: str  # the JSON type, as results.Field.kind
    doc: str
    source: str  # where the number comes from: the NVML call and its nvidia-smi / DCGM equivalent
    since: int = 1
    window: str | None = None
    summarize: str | None = None
    diagnose: bool = False
    report: bool = False
    gauge: Gauge | None = None


def _gpm(name: str, doc: str, source: str, *, report: bool = False) -> Metric:
    return Metric(name, "float", doc, f"GPM {source} over the window", window=name, report=report)


TELEMETRY_METRICS: tuple[Metric, ...] = (
    Metric("window_s", "float", "length of the telemetry window", "time.monotonic around the window",
           window="window_s"),
    Metric("nvml_util_pct", "float", "NVML utilization.gpu: share of time any kernel was resident, window mean",
           "nvmlDeviceGetSamples NVML_GPU_UTILIZATION_SAMPLES (nvidia-smi utilization.gpu)", window="nvml_util_pct",
           report=True),
    Metric("nvml_mem_util_pct", "float", "NVML memory utilization, window mean",
           "nvmlDeviceGetSamples NVML_MEMORY_UTILIZATION_SAMPLES (nvidia-smi utilization.memory)",
           window="nvml_mem_util_pct"),
    _gpm("gpm_sm_util_pct", "GPM SM activity: share of SMs holding a resident warp", "NVML_GPM_METRIC_SM_UTIL",
         report=True),
    _gpm("gpm_sm_occupancy_pct", "GPM SM occupancy: resident warps / max warps", "NVML_GPM_METRIC_SM_OCCUPANCY",
         report=True),
    _gpm("gpm_tensor_util_pct", "GPM any-tensor pipe activity", "NVML_GPM_METRIC_ANY_TENSOR_UTIL"),
    _gpm("gpm_fp32_util_pct", "GPM FP32 pipe activity", "NVML_GPM_METRIC_FP32_UTIL"),
    _gpm("gpm_fp16_util_pct", "GPM FP16 pipe activity", "NVML_GPM_METRIC_FP16_UTIL"),
    _gpm("gpm_fp64_util_pct", "GPM FP64 pipe activity", "NVML_GPM_METRIC_FP64_UTIL"),
    _gpm("gpm_int_util_pct", "GPM integer pipe activity", "NVML_GPM_METRIC_INTEGER_UTIL"),
    _gpm("gpm_dram_bw_util_pct", "GPM DRAM bandwidth utilization", "NVML_GPM_METRIC_DRAM_BW_UTIL"),
    Metric("power_w", "float", "mean power from the energy counter over the window",
           "nvmlDeviceGetTotalEnergyConsumption delta / window", window="power_w", report=True),
    Metric("power_idle_w", "float", "same, over the idle baseline window of this run",
           "power_w of the run's idle baseline window"),
    Metric("power_delta_w", "float", "power_w - power_idle_w", "power_w - power_idle_w", report=True),
    Metric("sm_clock_mhz", "float", "SM clock during the window (NVML)",
           "nvmlDeviceGetClockInfo NVML_CLOCK_SM (nvidia-smi clocks.sm; DCGM_FI_DEV_SM_CLOCK), mean of 1 s reads",
           window="sm_clock_mhz", summarize="mean", diagnose=True,
           gauge=Gauge("waitbench_sm_clock_hertz", "SM clock, mean over the last window, in Hz (nvmlDeviceGetClockInfo "
                       "NVML_CLOCK_SM = nvidia-smi clocks.sm; DCGM_FI_DEV_SM_CLOCK, in MHz)", 1e6)),
    Metric("mem_clock_mhz", "float", "memory clock during the window (NVML)",
           "nvmlDeviceGetClockInfo NVML_CLOCK_MEM (nvidia-smi clocks.mem; DCGM_FI_DEV_MEM_CLOCK), mean of 1 s reads",
           since=5, window="mem_clock_mhz", summarize="mean", diagnose=True,
           gauge=Gauge("waitbench_memory_clock_hertz", "Memory clock, mean over the last window, in Hz "
                       "(nvmlDeviceGetClockInfo NVML_CLOCK_MEM = nvidia-smi clocks.mem; DCGM_FI_DEV_MEM_CLOCK, in MHz)",
                       1e6)),
    Metric("host_cpu_pct", "float", "CPU time of the waiting thread per wall second, in percent of one core",
           "CPU time of the waiting thread per wall second (telemetry/host_cpu.py)",
           window="host_thread_cpu_pct", report=True),
    Metric("verdict", "str", "'idle', 'busy', 'busy-waiting', 'shared' or 'unknown' (waitbench.telemetry)",
           "waitbench.telemetry.verdict.classify", report=True),
    Metric("verdict_reason", "str", "why the verdict was reached", "waitbench.telemetry.verdict.classify"),
    Metric("verdict_inputs", "dict", "the numbers and thresholds the verdict used (waitbench.telemetry.verdict)",
           "waitbench.telemetry.verdict.classify"),
)

BY_NAME: dict[str, Metric] = {m.name: m for m in TELEMETRY_METRICS}
SUMMARIZED: tuple[Metric, ...] = tuple(m for m in TELEMETRY_METRICS if m.summarize)
DIAGNOSED: tuple[Metric, ...] = tuple(m for m in TELEMETRY_METRICS if m.diagnose)
REPORTED: tuple[Metric, ...] = tuple(m for m in TELEMETRY_METRICS if m.report)
GAUGED: tuple[Metric, ...] = tuple(m for m in TELEMETRY_METRICS if m.gauge)
