# SPDX-License-Identifier: Apache-2.0
"""When requests reach rank 0: a seeded Poisson stream, or bursts at the same mean rate.

Why both: a Poisson stream leaves the ranks idle between most requests (each dispatch wakes a
sleeping waiter); bursts queue requests back to back, so a dispatch finds its waiters still awake
and later requests wait for earlier ones (the queueing is part of their latency, as in a server).
Times are offsets in ns from the run's start, non-decreasing, the same for the same seed.
"""

from __future__ import annotations

import numpy as np

from .. import checks
from ..errors import invalid

PATTERNS = ("poisson", "burst")
MAX_REQUESTS = 10_000_000
MAX_RATE_HZ = 1e6
MAX_BURST = 10_000


def arrival_offsets_ns(pattern: str, rate_hz: float, requests: int, *, seed: int = 0,
                       burst_size: int = 16) -> np.ndarray:
    """Arrival offsets (int64 ns) of ``requests`` requests at mean rate ``rate_hz``.

    Args:
        pattern: 'poisson' (exponential gaps) or 'burst' (``burst_size`` requests at once, bursts
            ``burst_size / rate_hz`` apart, with exponential jitter so bursts do not beat with timers).
        rate_hz: mean requests per second.
        requests: how many.
        seed: the generator's seed.
        burst_size: requests per burst ('burst' only).
    """
    if pattern not in PATTERNS:
        raise invalid("pattern", pattern, "one of " + ", ".join(PATTERNS))
    rate_hz = float(checks.number("rate_hz", rate_hz, 1e-3, MAX_RATE_HZ))
    requests = checks.count("requests", requests, 1, MAX_REQUESTS)
    seed = checks.count("seed", seed, 0, 2**63 - 1)
    burst_size = checks.count("burst_size", burst_size, 1, MAX_BURST)
    rng = np.random.default_rng(seed)
    if pattern == "poisson":
        gaps = rng.exponential(1e9 / rate_hz, requests)
        return np.cumsum(gaps).astype(np.int64)
    bursts = -(-requests // burst_size)
    starts = np.cumsum(rng.exponential(1e9 * burst_size / rate_hz, bursts)).astype(np.int64)
    return np.repeat(starts, burst_size)[:requests]
