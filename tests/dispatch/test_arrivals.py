# SPDX-License-Identifier: Apache-2.0
"""The request generator: seeded, at the asked mean rate, bursts grouped, bad arguments named."""

from __future__ import annotations

import numpy as np
import pytest

from waitbench.dispatch.arrivals import arrival_offsets_ns


def test_poisson_is_seeded_and_at_its_rate() -> None:
    a = arrival_offsets_ns("poisson", 1000.0, 20_000, seed=3)
    assert np.array_equal(a, arrival_offsets_ns("poisson", 1000.0, 20_000, seed=3))
    assert not np.array_equal(a, arrival_offsets_ns("poisson", 1000.0, 20_000, seed=4))
    gaps = np.diff(a)
    assert (gaps >= 0).all()
    assert np.mean(gaps) == pytest.approx(1e6, rel=0.03)  # 1 ms mean gap; 20k samples: ~0.7% sd
    assert np.std(gaps) == pytest.approx(1e6, rel=0.05)  # exponential: sd == mean


def test_burst_groups_requests_at_the_same_mean_rate() -> None:
    a = arrival_offsets_ns("burst", 1000.0, 16_000, seed=1, burst_size=16)
    starts, counts = np.unique(a, return_counts=True)
    assert (counts == 16).all() and len(starts) == 1000
    assert np.mean(np.diff(starts)) == pytest.approx(16e6, rel=0.1)
    assert len(arrival_offsets_ns("burst", 10.0, 5, burst_size=4)) == 5


@pytest.mark.parametrize("args, kwargs, name", [
    (("uniform", 1.0, 10), {}, "pattern"),
    (("poisson", 0.0, 10), {}, "rate_hz"),
    (("poisson", 1.0, 0), {}, "requests"),
    (("burst", 1.0, 10), {"burst_size": 0}, "burst_size"),
    (("poisson", 1.0, 10), {"seed": -1}, "seed"),
])
def test_bad_arguments_are_named(args: tuple, kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}="):
        arrival_offsets_ns(*args, **kwargs)
