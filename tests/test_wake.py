# SPDX-License-Identifier: Apache-2.0
"""Wake-up latency: the clock mapping (CPU) and sane, positive latencies for every strategy (GPU)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import waitbench
from waitbench.wake import _offset_at


def test_offset_is_interpolated_between_calibrations() -> None:
    cal0 = {"host_ns": 1000.0, "offset_ns": 50.0}
    cal1 = {"host_ns": 3000.0, "offset_ns": 70.0}
    got = _offset_at(cal0, cal1, np.array([1000.0, 2000.0, 3000.0]))
    assert got.tolist() == [50.0, 60.0, 70.0]
    assert _offset_at(cal0, dict(cal0), np.array([5.0])).tolist() == [50.0]


def test_bad_arguments_are_refused_before_the_gpu() -> None:
    with pytest.raises(ValueError, match="trials=0 is invalid"):
        waitbench.wake_latency("spin", trials=0)
    with pytest.raises(ValueError, match="gap_us=-1 is invalid"):
        waitbench.wake_latency("spin", gap_us=-1)


@pytest.mark.gpu
@pytest.mark.parametrize("name", [s.name for s in waitbench.strategies()])
def test_wake_latencies_are_positive_and_below_sane_bounds(name: str) -> None:
    wl = waitbench.wake_latency(name, trials=300, warmup=50)
    f = wl.record_fields()
    assert wl.expired == 0 and wl.aborted == 0 and f["wake_trials"] == 300
    assert 0 < f["wake_rtt_min_us"] <= f["wake_rtt_p50_us"] <= f["wake_rtt_p99_us"] <= f["wake_rtt_max_us"]
    assert f["wake_rtt_p50_us"] < 500.0
    # The waiter observes the release before the host sees its ack (within the clock's uncertainty).
    slack = f["clock_offset_uncertainty_us"] + f["globaltimer_resolution_ns"] / 1e3 + 1.0
    assert -slack < f["wake_observe_p50_us"] <= f["wake_rtt_p50_us"] + slack
    assert 0 < f["wake_floor_rtt_p50_us"] < 500.0
    assert f["clock_offset_uncertainty_us"] < 20.0


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["spin", "host-block", "event-blocking-sync"])
def test_trials_give_the_calling_thread_its_cpus_back(name: str) -> None:
    # the trials pin this thread (and a host waiter's) to one core each, then must let go
    before = os.sched_getaffinity(0)
    waitbench.wake_latency(name, trials=100, warmup=10)
    assert os.sched_getaffinity(0) == before

