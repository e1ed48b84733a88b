# SPDX-License-Identifier: Apache-2.0
"""The barrier benchmark on CPUs: real spawned ranks, every kind, records in the common schema that
``waitbench report`` reads (few rounds: this checks the plumbing, the benchmark measures).
"""

from __future__ import annotations

import importlib.util

import pytest

from waitbench.barrierbench import STRATEGY, PointSettings, point_record, run_group
from waitbench.machine import host_identity
from waitbench.report import tables
from waitbench.results import validate

SETTINGS = PointSettings(rounds=40, warmup=5, gap_us=100.0, idle_s=0.05, timeout_s=20.0)


def _records(ranks: int, kinds: list) -> list[dict]:
    ident = host_identity()
    return [point_record(res, SETTINGS, ident, machine="test") for res in run_group(ranks, kinds, SETTINGS)]


def test_native_and_python_barriers_give_complete_records() -> None:
    recs = _records(3, [("shm-futex", {"spin_us": 0}), ("shm-futex", {"spin_us": 1000}), ("mp-barrier", {})])
    assert [(r["options"]["kind"], r["options"].get("spin_us")) for r in recs] == [
        ("shm-futex", 0), ("shm-futex", 1000), ("mp-barrier", None)]
    for r in recs:
        validate(r)
        assert r["strategy"] == STRATEGY and r["world_size"] == 3 and r["wake_trials"] == 40
        assert r["extra"]["samples"] == 80 and len(r["extra"]["per_rank_observe_p50_us"]) == 2
        assert 0 < r["wake_observe_min_us"] <= r["wake_observe_p50_us"] <= r["wake_observe_p999_us"]
        assert r["extra"]["last_rank_observe_p50_us"] >= r["wake_observe_p50_us"]
        assert r["extra"]["waited_p50_us"] >= 100.0  # the ranks really waited through the gap
        assert 0 <= r["host_cpu_pct"] < 100 and 0 <= r["wait_host_cpu_pct"] <= 100
        assert r["wake_rtt_p50_us"] is None and "CPU leg" in r["null_reasons"]["wake_rtt_p50_us"]
        assert r["nvml_util_pct"] is None and "CPU leg" in r["null_reasons"]["nvml_util_pct"]
    spin0, spin1000, mp_ = recs
    assert mp_["host_wait_in_python"] and not spin0["host_wait_in_python"]
    assert spin0["extra"]["native_observe_p50_us"] > 0 and "native_observe_p50_us" not in mp_["extra"]
    # a spin longer than the gap keeps the waiting thread on a core; a pure block does not
    assert spin1000["wait_host_cpu_pct"] > spin0["wait_host_cpu_pct"]


def test_report_puts_each_kind_on_its_own_row_named_by_the_options_that_vary() -> None:
    recs = _records(2, [("shm-futex", {"spin_us": 0}), ("mp-barrier", {})])
    (table,) = tables.build_tables(recs, kinds=("strategies",))
    assert [row[0] for row in table.cells] == ["host-barrier kind=shm-futex", "host-barrier kind=mp-barrier"]


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="gloo and store barriers need torch")
def test_torch_barriers_run_between_processes() -> None:
    recs = _records(2, [("gloo-barrier", {}), ("store-barrier", {})])
    assert [r["options"]["kind"] for r in recs] == ["gloo-barrier", "store-barrier"]
    assert all(r["wake_observe_p50_us"] > 0 and not r["host_wait_in_python"] for r in recs)


def test_bad_settings_and_kinds_are_value_errors() -> None:
    with pytest.raises(ValueError, match=r"rounds=0 is invalid"):
        next(run_group(2, [("mp-barrier", {})], PointSettings(rounds=0)))
    with pytest.raises(ValueError, match=r"kind='nccl' is invalid: expected one of shm-futex"):
        next(run_group(2, [("nccl", {})], SETTINGS))
    with pytest.raises(ValueError, match=r"ranks=1 is invalid: expected an int in \[2, 256\]"):
        next(run_group(1, [("mp-barrier", {})], SETTINGS))
