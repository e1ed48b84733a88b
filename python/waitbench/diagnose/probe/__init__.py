# SPDX-License-Identifier: Apache-2.0
"""An active probe for GPUs whose counters cannot tell waiting from work (``diagnose --probe``).

measure.py runs the bounded FMA burst (in a child process), baseline.py caches the idle GPU's
result per GPU and driver, judge.py reads a probe beside the counters, run.py runs probes for
diagnose. Importing needs no GPU.
"""

from __future__ import annotations

from .baseline import Baseline, cache_dir, cache_path
from .judge import PROBE_FREE_RATIO, READINGS, ProbeReading, apply_probe, interpret
from .measure import PROBE_ALLOC_MAX_BYTES, PROBE_BUDGET_S, ProbeRun
from .run import probe_rows, run_child

__all__ = ["PROBE_ALLOC_MAX_BYTES", "PROBE_BUDGET_S", "PROBE_FREE_RATIO", "READINGS", "Baseline", "ProbeReading",
           "ProbeRun", "apply_probe", "cache_dir", "cache_path", "interpret", "probe_rows", "run_child"]
