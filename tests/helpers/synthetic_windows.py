# SPDX-License-Identifier: Apache-2.0
"""SYNTHETIC window summaries for testing the verdict's logic: NOT measurements.

Each builder states the situation it stands for; its numbers are made up to sit clearly on one side
of the PROVISIONAL thresholds. Real device recordings live in tests/data/telemetry/*.jsonl and are
tested by test_verdict.py whenever they are present.
"""

from __future__ import annotations

import os
from typing import Any

from waitbench.telemetry.gpm import GPM_FIELDS
from waitbench.telemetry.summary import WindowSummary

SYNTHETIC_GPU = "SYNTHETIC GPU (test fixture, not a measurement)"
SYNTHETIC_UUID = "GPU-00000000-0000-0000-0000-000000000000"
NO_GPM = "GPM needs Hopper or newer; SYNTHETIC GPU has no GPM"


def synthetic(**fields: Any) -> WindowSummary:
    """A summary with everything at rest (idle power, no activity, this process only) unless overridden."""
    base: dict[str, Any] = dict(uuid=SYNTHETIC_UUID, index=0, name=SYNTHETIC_GPU, window_s=2.0,
                                nvml_util_pct=0.0, nvml_mem_util_pct=0.0, power_w=70.0, power_limit_w=700.0,
                                observer_pid=os.getpid(), processes=[{"pid": os.getpid(), "name": "python"}])
    base.update(dict.fromkeys(GPM_FIELDS, 0.0))
    base.update(fields)
    return WindowSummary(**base)


def without_gpm(**fields: Any) -> WindowSummary:
    """As a pre-Hopper GPU reads: every GPM field None with the reason."""
    s = synthetic(**fields)
    for f in GPM_FIELDS:
        s.null(f, NO_GPM)
    return s


IDLE = synthetic()
# A 1-warp poller: reported ~100%, one SM of 132 holds a warp, nothing works.
SPIN_1WARP = synthetic(nvml_util_pct=100.0, gpm_sm_util_pct=0.8, gpm_sm_occupancy_pct=0.02, power_w=95.0)
# A waiter on every SM: SM activity 100% (the trap), pipes and DRAM still quiet.
SPIN_EVERY_SM = synthetic(nvml_util_pct=100.0, gpm_sm_util_pct=100.0, gpm_sm_occupancy_pct=1.6, gpm_int_util_pct=0.3,
                          power_w=130.0)
GEMM = synthetic(nvml_util_pct=100.0, gpm_sm_util_pct=99.0, gpm_sm_occupancy_pct=12.0, gpm_tensor_util_pct=70.0,
                 gpm_dram_bw_util_pct=20.0, power_w=650.0)
COPY = synthetic(nvml_util_pct=100.0, gpm_sm_util_pct=99.0, gpm_sm_occupancy_pct=40.0, gpm_int_util_pct=1.0,
                 gpm_dram_bw_util_pct=85.0, power_w=350.0)
HOST_BLOCK = synthetic(power_w=71.0)
