# SPDX-License-Identifier: Apache-2.0
"""Telemetry: what NVML reports, what the GPU really does (GPM), power, host CPU, and a verdict.

Importing needs no GPU and no NVML: the library is loaded when a :class:`Sampler` starts, and its
absence is one :class:`waitbench.errors.NvmlError` with a one-line reason
(:func:`nvml_unavailable_reason` says it without raising).
"""

from __future__ import annotations

from .gpm import GPM_FIELDS, GPM_METRICS, GPM_MIN_INTERVAL_S, PIPE_FIELDS
from .host_cpu import CpuMeter, CpuWindow
from .instrument import MIN_PERIODS_PER_WINDOW, Periods
from .nvml import Device
from .nvml import unavailable_reason as nvml_unavailable_reason
from .recording import RecordingWriter, read_windows
from .sampler import DEFAULT_PERIOD_S, Sampler
from .summary import WindowSummary
from .verdict import THRESHOLDS, VERDICTS, Verdict, classify

__all__ = ["DEFAULT_PERIOD_S", "GPM_FIELDS", "GPM_METRICS", "GPM_MIN_INTERVAL_S", "MIN_PERIODS_PER_WINDOW",
           "PIPE_FIELDS", "THRESHOLDS", "VERDICTS", "CpuMeter", "CpuWindow", "Device", "Periods", "RecordingWriter",
           "Sampler", "Verdict", "WindowSummary", "classify", "nvml_unavailable_reason", "read_windows"]
