# SPDX-License-Identifier: Apache-2.0
"""How a point's samples become a record: percentiles over every rank's rounds, the slowest rank per
round, CPU shares, and the GPU leg's ack latency and NVML window. The samples and telemetry windows
here are SYNTHETIC (pure aggregation logic; the harness tests measure for real).
"""

from __future__ import annotations

import numpy as np

from waitbench.barrierbench import PointSettings, point_record
from waitbench.barrierbench.harness import PointResult
from waitbench.barrierbench.kinds import Point
from waitbench.barrierbench.ranks import (
    ACK,
    COLUMNS,
    NATIVE_RELEASE,
    NATIVE_WAKE,
    PROCESS_CPU,
    THREAD_CPU,
    WAKE,
    WALL,
    RankSamples,
)
from waitbench.machine import host_identity
from waitbench.results import validate
from waitbench.telemetry import WindowSummary

ROUNDS = 100


def synthetic_point(gpus: int) -> PointResult:
    """Rank 1 is released 10 us after the last arrival and sees its ack 20 us after; rank 2: 12 and 30 us."""
    release = np.arange(ROUNDS, dtype=np.int64) * 1_000_000 + 5_000_000
    ranks = []
    for rank, (wake_us, ack_us) in ((1, (10, 20)), (2, (12, 30))):
        r = np.zeros((ROUNDS, COLUMNS), dtype=np.int64)
        r[:, WAKE] = release + wake_us * 1000
        r[:, ACK] = release + ack_us * 1000 if gpus else 0
        r[:, WALL] = 200_000 + wake_us * 1000
        r[:, THREAD_CPU] = r[:, WALL] // 10
        r[:, PROCESS_CPU] = r[:, WALL] // 5
        r[:, NATIVE_RELEASE] = release + 1000
        r[:, NATIVE_WAKE] = release + (wake_us - 2) * 1000
        ranks.append(RankSamples(rank, 0, r, idle_process_cpu_ns=2_000_000, idle_thread_cpu_ns=1_000_000,
                                 idle_wall_ns=1_000_000_000))
    windows = None
    if gpus:
        windows = {u: WindowSummary(uuid=u, index=i, name="SYNTHETIC GPU", window_s=1.0, nvml_util_pct=util)
                   for i, (u, util) in enumerate((("GPU-a", 0.0), ("GPU-b", 3.0)))}
    return PointResult(Point("shm-futex", 3, {"spin_us": 0}, None, "k"), release, ranks, windows)


def test_cpu_leg_record() -> None:
    rec = point_record(synthetic_point(0), PointSettings(rounds=ROUNDS), host_identity(), machine="synthetic")
    validate(rec)
    assert rec["options"] == {"kind": "shm-futex", "ranks": 3, "spin_us": 0, "gap_us": 200.0, "timeout_s": 30.0}
    assert rec["wake_trials"] == ROUNDS and rec["extra"]["samples"] == 2 * ROUNDS
    assert (rec["wake_observe_min_us"], rec["wake_observe_p50_us"], rec["wake_observe_max_us"]) == (10.0, 11.0, 12.0)
    assert rec["extra"]["last_rank_observe_p50_us"] == 12.0  # the slowest rank of each round
    assert rec["extra"]["per_rank_observe_p50_us"] == [10.0, 12.0]
    assert rec["extra"]["native_observe_p50_us"] == 8.0  # C++ stamps: (wake - 2) - (release + 1) = 7 and 9 us
    assert abs(rec["wait_host_cpu_pct"] - 10.0) < 0.01 and abs(rec["extra"]["rank_process_cpu_pct"] - 20.0) < 0.01
    assert rec["host_cpu_pct"] == 0.2 and rec["extra"]["idle_thread_cpu_pct"] == 0.1
    assert rec["extra"]["waited_p50_us"] == 200.0
    assert rec["wake_rtt_p50_us"] is None and rec["nvml_util_pct"] is None


def test_gpu_leg_record_takes_the_acks_and_the_busiest_gpu_of_the_window() -> None:
    rec = point_record(synthetic_point(2), PointSettings(rounds=ROUNDS, gpus=2), host_identity(), machine="synthetic",
                       floor_rtt_p50_us=8.5)
    validate(rec)
    assert (rec["wake_rtt_min_us"], rec["wake_rtt_p50_us"], rec["wake_rtt_max_us"]) == (20.0, 25.0, 30.0)
    assert rec["wake_floor_rtt_p50_us"] == 8.5
    assert rec["nvml_util_pct"] == 3.0 and rec["extra"]["nvml_util_pct_per_gpu"] == {"GPU-a": 0.0, "GPU-b": 3.0}
    assert rec["host_cpu_pct"] == 0.2  # the ranks' processes, not the measuring one
    assert rec["verdict"] is None and "shared" in rec["null_reasons"]["verdict"]
