# SPDX-License-Identifier: Apache-2.0
"""Small, pure statistics helpers shared by the runner, reports and compare (no I/O, no GPU)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def percentiles_us(samples_ns: np.ndarray, prefix: str) -> dict[str, float | None]:
    """min/p50/p99/p99.9/max of ns samples, in us, keyed ``{prefix}_{stat}_us``."""
    keys = ("min", "p50", "p99", "p999", "max")
    if samples_ns.size == 0:
        return {f"{prefix}_{k}_us": None for k in keys}
    q = np.percentile(samples_ns, [0, 50, 99, 99.9, 100]) / 1e3
    return {f"{prefix}_{k}_us": float(v) for k, v in zip(keys, q, strict=True)}


def relative_spread_pct(values: Sequence[float]) -> float:
    """Interquartile range over the median, in percent (robust to a single outlier)."""
    a = np.asarray(values, dtype=float)
    if a.size < 2:
        return float("inf")
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return float(100.0 * (q3 - q1) / abs(med)) if med else float("inf")


def median(values: Sequence[float]) -> float:
    """The median of ``values`` as a float."""
    return float(np.median(np.asarray(values, dtype=float)))
