# SPDX-License-Identifier: Apache-2.0
"""GPM (GPU Performance Monitoring): what the SMs, pipes and DRAM really did between two samples.

Why it matters here: NVML's utilization.gpu counts time any kernel is resident, so a waiting kernel
reads 100%; GPM's pipe and DRAM activity show whether anything works. GPM exists on Hopper and
newer only (and not on every SKU); elsewhere every GPM metric is ``None`` with the reason.

API: ``nvmlGpmSampleAlloc`` + ``nvmlGpmSampleGet`` at two times, then ``nvmlGpmMetricsGet`` with a
``c_nvmlGpmMetricsGet_t`` (version ``NVML_GPM_METRICS_GET_VERSION``) computes each metric over the
interval between the samples. Sample period: the driver refreshes GPM counters internally; NVML's
documentation asks for samples more than 100 ms apart (:data:`GPM_MIN_INTERVAL_S`).
nvidia-smi equivalent: ``nvidia-smi dmon --gpm-metrics <ids>``; DCGM: the ``DCGM_FI_PROF_*`` fields.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from ..errors import NvmlError
from . import nvml

# NVML's documented floor for the interval between two GPM samples (nvmlGpmMetricsGet docs:
# "should be greater than 100ms due to the internal sample refresh rate"). Documented, not measured:
# instrument.py measures the refresh it can see and records both.
GPM_MIN_INTERVAL_S = 0.1


@dataclass(frozen=True)
class GpmMetric:
    """One GPM metric: the summary field it fills, the pynvml constant, and what tools call it."""

    field: str
    nvml_name: str
    dcgm: str
    doc: str


# Each entry: GPM metric id (pynvml constant), period = the window between two GPM samples,
# nvidia-smi equivalent `nvidia-smi dmon --gpm-metrics <id>`, DCGM field named beside it.
GPM_METRICS: tuple[GpmMetric, ...] = (
    GpmMetric("gpm_graphics_util_pct", "NVML_GPM_METRIC_GRAPHICS_UTIL", "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
              "time the graphics/compute engine had work (like utilization.gpu, from GPM)"),
    GpmMetric("gpm_sm_util_pct", "NVML_GPM_METRIC_SM_UTIL", "DCGM_FI_PROF_SM_ACTIVE",
              "SMs holding at least one resident warp (a waiter on every SM reads 100%)"),
    GpmMetric("gpm_sm_occupancy_pct", "NVML_GPM_METRIC_SM_OCCUPANCY", "DCGM_FI_PROF_SM_OCCUPANCY",
              "resident warps / the SMs' maximum warps"),
    GpmMetric("gpm_tensor_util_pct", "NVML_GPM_METRIC_ANY_TENSOR_UTIL", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
              "time the SMs issued any tensor-core instruction"),
    GpmMetric("gpm_fp64_util_pct", "NVML_GPM_METRIC_FP64_UTIL", "DCGM_FI_PROF_PIPE_FP64_ACTIVE",
              "time the SMs did non-tensor FP64 math"),
    GpmMetric("gpm_fp32_util_pct", "NVML_GPM_METRIC_FP32_UTIL", "DCGM_FI_PROF_PIPE_FP32_ACTIVE",
              "time the SMs did non-tensor FP32 math"),
    GpmMetric("gpm_fp16_util_pct", "NVML_GPM_METRIC_FP16_UTIL", "DCGM_FI_PROF_PIPE_FP16_ACTIVE",
              "time the SMs did non-tensor FP16 math"),
    GpmMetric("gpm_int_util_pct", "NVML_GPM_METRIC_INTEGER_UTIL", "DCGM_FI_PROF_PIPE_INT_ACTIVE",
              "time the SMs did integer math"),
    GpmMetric("gpm_dram_bw_util_pct", "NVML_GPM_METRIC_DRAM_BW_UTIL", "DCGM_FI_PROF_DRAM_ACTIVE",
              "DRAM bandwidth used / the theoretical maximum"),
    GpmMetric("gpm_pcie_tx_mib_s", "NVML_GPM_METRIC_PCIE_TX_PER_SEC", "DCGM_FI_PROF_PCIE_TX_BYTES",
              "PCIe traffic from this GPU (a waiter polling host-mapped memory shows here)"),
    GpmMetric("gpm_pcie_rx_mib_s", "NVML_GPM_METRIC_PCIE_RX_PER_SEC", "DCGM_FI_PROF_PCIE_RX_BYTES",
              "PCIe traffic to this GPU"),
)
GPM_FIELDS: tuple[str, ...] = tuple(m.field for m in GPM_METRICS)
# The pipes whose activity means "something computes" (the verdict reads these, not SM activity).
PIPE_FIELDS: tuple[str, ...] = ("gpm_tensor_util_pct", "gpm_fp64_util_pct", "gpm_fp32_util_pct",
                                "gpm_fp16_util_pct", "gpm_int_util_pct")


def unavailable_reason(dev: nvml.Device) -> str | None:
    """None if GPM works on ``dev``, else why not (pre-Hopper, no permission, old driver)."""
    support, reason = nvml.optional("nvmlGpmQueryDeviceSupport", dev.handle)
    if support is None:
        return f"GPM needs Hopper or newer and a driver >= R520 ({reason})"
    if not support.isSupportedDevice:
        return f"GPM needs Hopper or newer; {dev.name} has no GPM"
    return None


@dataclass
class GpmSample:
    """A GPM sample buffer and the monotonic time it was read."""

    buffer: Any
    t_s: float


class GpmReader:
    """Takes GPM samples of one device and computes the metrics between two of them.

    Construction never raises: ``reason`` says why GPM is absent, and then every call returns None.
    """

    def __init__(self, dev: nvml.Device) -> None:
        self.device = dev
        self.reason = unavailable_reason(dev)
        self._ids: list[int] = []
        self._request: Any = None
        if self.reason is None:
            nv = nvml.pynvml()
            missing = [m.nvml_name for m in GPM_METRICS if not hasattr(nv, m.nvml_name)]
            if missing:
                self.reason = f"this nvidia-ml-py lacks {', '.join(missing)} (upgrade nvidia-ml-py)"
            else:
                self._ids = [int(getattr(nv, m.nvml_name)) for m in GPM_METRICS]
                self._request = nv.c_nvmlGpmMetricsGet_t()

    @property
    def available(self) -> bool:
        """True when this GPU gives GPM samples (else ``reason`` says why not)."""
        return self.reason is None

    def sample(self) -> GpmSample | None:
        """A new sample (free it with :meth:`free`), or None if GPM is or just became unavailable."""
        if self.reason is not None:
            return None
        try:
            buf = nvml.call("nvmlGpmSampleAlloc")
        except NvmlError as exc:
            self.reason = f"GPM sample buffer could not be allocated: {exc}"
            return None
        try:
            nvml.call("nvmlGpmSampleGet", self.device.handle, buf)
        except NvmlError as exc:
            self.free(GpmSample(buf, 0.0))
            self.reason = f"GPM samples cannot be read: {exc}"
            return None
        return GpmSample(buf, time.monotonic())

    def free(self, sample: GpmSample | None) -> None:
        """Free a sample's NVML buffer (once; None and freed samples are ignored)."""
        if sample is not None and sample.buffer is not None:
            nvml.optional("nvmlGpmSampleFree", sample.buffer)
            sample.buffer = None

    def metrics(self, first: GpmSample | None,
                second: GpmSample | None) -> tuple[dict[str, float | None], dict[str, str]]:
        """Every GPM field over ``first`` -> ``second``: values (None where absent) and the reasons."""
        if self.reason is not None or first is None or second is None:
            why = self.reason or "no GPM sample pair for this interval"
            return dict.fromkeys(GPM_FIELDS), dict.fromkeys(GPM_FIELDS, why)
        nv = nvml.pynvml()
        req = self._request
        req.version = nv.NVML_GPM_METRICS_GET_VERSION
        req.numMetrics = len(self._ids)
        req.sample1 = first.buffer
        req.sample2 = second.buffer
        for i, metric_id in enumerate(self._ids):
            req.metrics[i].metricId = metric_id
        try:
            nvml.call("nvmlGpmMetricsGet", req)
        except NvmlError as exc:
            return dict.fromkeys(GPM_FIELDS), dict.fromkeys(GPM_FIELDS, f"GPM metrics not computed: {exc}")
        values: dict[str, float | None] = {}
        reasons: dict[str, str] = {}
        for i, m in enumerate(GPM_METRICS):
            entry = req.metrics[i]
            value = float(entry.value)
            if entry.nvmlReturn != 0:
                values[m.field] = None
                reasons[m.field] = f"{m.nvml_name}: NVML error code {int(entry.nvmlReturn)} (not on this GPU)"
            elif not math.isfinite(value):
                values[m.field] = None
                reasons[m.field] = f"{m.nvml_name}: NVML returned {value}"
            else:
                values[m.field] = value
        return values, reasons
