# SPDX-License-Identifier: Apache-2.0
"""REAL single-GPU windows (one H100, tests/data/telemetry/h100-580.159.04.jsonl) and COMPOSED hosts made of them.

The device recording holds one window per scenario of ONE GPU (benchmarks/record_telemetry.py).
:func:`composed_host` lays such windows side by side as GPUs 0..n-1 of one imaginary host: each is a
real measurement, only its identity (UUID, indices, name) is renamed. That is a composition, not a
multi-GPU measurement; the tests that use it say so. tests/data/diagnose/h100-composed-4gpu.jsonl is
the same composition written as a diagnose recording (tests/data/diagnose/make_composed.py).
"""

from __future__ import annotations

import copy
from pathlib import Path

from waitbench.telemetry.recording import read_windows
from waitbench.telemetry.summary import WindowSummary

DATA = Path(__file__).resolve().parents[1] / "data"
H100 = DATA / "telemetry" / "h100-580.159.04.jsonl"
COMPOSED_4GPU = DATA / "diagnose" / "h100-composed-4gpu.jsonl"
RECORDER_PID = 933  # the pid of benchmarks/record_telemetry.py on the device: the only process in those windows


def real_window(scenario: str) -> WindowSummary:
    """The real H100 window of ``scenario`` (idle, gemm, copy, spin-1warp, nccl-simple-16ch, spin-every-sm,
    host-block), a fresh copy each call.
    """
    for s, meta in read_windows(H100):
        if meta.get("scenario") == scenario:
            return copy.deepcopy(s)
    raise KeyError(scenario)


def composed_host(*scenarios: str) -> list[WindowSummary]:
    """COMPOSED: real windows of ``scenarios`` renamed as GPUs 0, 1, ... of one host."""
    out = []
    for gpu, scenario in enumerate(scenarios):
        s = real_window(scenario)
        s.uuid = s.uuid[:-2] + f"{gpu:02x}"
        s.index = s.nvml_index = gpu
        s.name += " (composed)"
        out.append(s)
    return out
