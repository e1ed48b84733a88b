# SPDX-License-Identifier: Apache-2.0
"""benchmarks/wake_floor_compare.py: its verdicts follow issue 16's goal, and every path it compares
is a case benchmarks/wake_latency.py knows (or the device call would end in a usage error).

Inputs are SYNTHETIC round figures made up here, not measurements.
"""

from __future__ import annotations

import pytest

from helpers.benchmark_scripts import load_benchmark

cmp = load_benchmark("wake_floor_compare")


def _rounds(floor_p50: float, wb_p50: float, wb_p99: float, n: int = 3) -> tuple[list[dict], list[dict]]:
    floor = {"paths": [{"path": p, "kind": "floor", "note": "", "trials": 10000, "p50_us": floor_p50,
                        "p99_us": floor_p50 * 1.2, "error": ""} for p, _, _ in cmp.PATHS]}
    wb = {"rows": [{"label": label, "wake_rtt_p50_us": wb_p50, "wake_rtt_p99_us": wb_p99} for _, label, _ in cmp.PATHS]}
    return [floor] * n, [wb] * n


def test_every_compared_case_is_one_wake_latency_runs() -> None:
    wl = load_benchmark("wake_latency")
    known = {wl._label(n, o) for n, o in wl.CASES} | {wl.FLOOR_LABEL}
    assert {label for _, label, _ in cmp.PATHS} <= known


def test_within_ten_percent_with_a_tight_tail_passes() -> None:
    rows = cmp.summarize(*_rounds(10.0, 10.9, 15.0))
    assert {r["verdict"] for r in rows} == {"PASS"}
    assert all(r["ratio_p50"] == pytest.approx(1.09) and r["rounds"] == 3 for r in rows)


@pytest.mark.parametrize("wb_p50,wb_p99,why", [(11.2, 15.0, "p50 ratio"), (10.5, 21.5, "p99 > 2x p50")])
def test_a_slow_median_or_a_long_tail_misses(wb_p50: float, wb_p99: float, why: str) -> None:
    rows = cmp.summarize(*_rounds(10.0, wb_p50, wb_p99))
    assert all(r["verdict"] == "MISS" and why in r["why"] for r in rows)


def test_a_tail_over_2x_passes_only_where_the_floor_has_that_tail_too() -> None:
    floors, waits = _rounds(10.0, 10.5, 22.0)
    for fl in floors:
        fl["paths"] = [{**p, "p99_us": 21.0} for p in fl["paths"]]  # the hardware's own tail: 2.1x its p50
    assert {r["verdict"] for r in cmp.summarize(floors, waits)} == {"PASS"}  # 22.0 <= 1.1 x 21.0
    waits = [{"rows": [{**x, "wake_rtt_p99_us": 23.5} for x in wb["rows"]]} for wb in waits]
    assert {r["verdict"] for r in cmp.summarize(floors, waits)} == {"MISS"}  # 23.5 > 1.1 x 21.0


def test_event_paths_must_also_stay_at_or_below_their_figures_before() -> None:
    rows = {r["path"]: r for r in cmp.summarize(*_rounds(45.0, 49.0, 60.0))}
    assert rows["event-blocking-sync"]["verdict"] == "PASS"  # 49.0 <= 49.9
    assert rows["event-spin-sync"]["verdict"] == "MISS" and "above 16.5" in rows["event-spin-sync"]["why"]


def test_a_floor_row_with_an_error_is_not_compared() -> None:
    floors, waits = _rounds(10.0, 10.5, 12.0, n=1)
    floors[0]["paths"][0] = {**floors[0]["paths"][0], "error": "no ack within 2 s"}
    row = cmp.summarize(floors, waits)[0]
    assert row["verdict"] == "MISS" and row["why"] == "no floor figure"
