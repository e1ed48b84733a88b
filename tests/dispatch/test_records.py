# SPDX-License-Identifier: Apache-2.0
"""'dispatch' records, their table and chart, from synthetic rank samples of known latencies."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from waitbench import results
from waitbench.dispatch.harness import ModeResult, Settings
from waitbench.dispatch.modes import MODES
from waitbench.dispatch.ranks import ARRIVAL, COLUMNS, OFF_CPU, OUTCOME, PROC_CPU, RECV, WALL
from waitbench.dispatch.records import dispatch_record
from waitbench.report.dispatch import dispatch_table
from waitbench.report.dispatch_plot import pareto_figure, pareto_front
from waitbench.report.render import FORMATS, print_rich, render_text

SETTINGS = Settings(ranks=3, requests=1000, warmup=10, max_rate_requests=100, idle_s=1.0, timeout_s=5.0)


def _synthetic(latency_us: dict[int, float]) -> ModeResult:
    """Three ranks; rank r receives every request latency_us[r] after its arrival; idle CPU 2% on rank 1."""
    n = len(SETTINGS.offsets_ns())
    arrival = 10**12 + SETTINGS.offsets_ns().clip(0) + np.arange(n) * 1000
    res = ModeResult(MODES["shm-ring-futex"], {}, SETTINGS)
    for rank, lat in latency_us.items():
        rows = np.zeros((n, COLUMNS), dtype=np.int64)
        rows[:, OUTCOME], rows[:, ARRIVAL] = 1, arrival
        rows[:, RECV] = arrival + int(lat * 1e3)
        rows[:, WALL] = 1_000_000
        rows[:, OFF_CPU] = rank % 2
        rows[SETTINGS.warmup, PROC_CPU] = 20_000 if rank == 1 else 0
        res.ranks[rank] = rows
    res.end_ns = int(arrival[-1]) + 10**6
    return res


def _record(res: ModeResult) -> dict:
    return dispatch_record(res, {"run_id": "t"}, cpu_model="Test CPU", machine="test")


def test_record_holds_the_latencies_of_the_measured_stream() -> None:
    rec = _record(_synthetic({0: 1.0, 1: 20.0, 2: 50.0}))
    results.validate(rec)
    assert rec["record_kind"] == "dispatch" and rec["strategy"] == "shm-ring-futex"
    assert rec["dispatch_requests"] == SETTINGS.requests
    assert rec["dispatch_recv_p50_us"] == pytest.approx(35.0)  # ranks 1 and 2 pooled, rank 0 sends
    assert rec["dispatch_last_recv_p99_us"] == pytest.approx(50.0)
    assert [r["recv_p50_us"] for r in rec["dispatch_per_rank"]] == pytest.approx([1.0, 20.0, 50.0])
    assert rec["host_cpu_pct"] == pytest.approx(1.0)  # ranks 1 (2%) and 2 (0%)
    assert rec["dispatch_off_cpu_ratio"] == pytest.approx(0.5)
    assert rec["dispatch_max_rate_hz"] > 0
    assert rec["dispatch_kernel_p50_us"] is None and "no CUDA GPU" in rec["null_reasons"]["dispatch_kernel_p50_us"]
    assert rec["nvml_util_pct"] is None and rec["null_reasons"]["nvml_util_pct"]
    json.dumps(rec)  # plain JSON
    assert results.check_record(json.loads(json.dumps(rec)))["cpu_model"] == "Test CPU"


def test_skipped_mode_is_a_record_with_its_reason() -> None:
    res = ModeResult(MODES["umwait"], {"wait_cycles": 100000}, SETTINGS, status="skipped", detail="no WAITPKG here")
    rec = _record(res)
    assert rec["status"] == "skipped" and rec["dispatch_recv_p99_us"] is None
    assert rec["null_reasons"]["dispatch_recv_p99_us"] == "no WAITPKG here"


@pytest.mark.parametrize("fmt", FORMATS)
def test_table_renders_in_every_format(fmt: str) -> None:
    recs = [_record(_synthetic({0: 1.0, 1: 20.0})), _record(ModeResult(MODES["zmq"], {}, SETTINGS, "skipped",
                                                                       "needs pyzmq"))]
    t = dispatch_table(recs)
    assert [c[0] for c in t.cells] == ["shm-ring-futex", "zmq"]
    assert not any("kernel" in c.header for c in t.columns)  # measured by no row: left out, a note says why
    assert any("needs pyzmq" in n for n in t.notes) and any("kernel start not measured" in n for n in t.notes)
    if fmt == "table":
        from rich.console import Console

        console = Console(record=True, width=100, file=open(os.devnull, "w"))  # noqa: SIM115
        print_rich([t], console)
        assert "shm-ring-futex" in console.export_text()
    else:
        assert "shm-ring-futex" in render_text([t], fmt)


def test_pareto_front() -> None:
    pts = [(1.0, 100.0), (2.0, 10.0), (3.0, 50.0), (50.0, 1.0)]
    assert pareto_front(pts) == [0, 1, 3]


def test_pareto_chart_is_written(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    recs = [_record(_synthetic({0: 1.0, 1: v})) for v in (10.0, 30.0)]
    recs[1]["strategy"] = "shm-ring-yield"
    out = tmp_path / "p.png"
    assert pareto_figure(recs, out) == ["host_cpu_pct"]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_judges_dispatch_latencies_and_leaves_out_modes_skipped_in_both() -> None:
    from waitbench.report.compare import compare

    a = [_record(_synthetic({0: 1.0, 1: 20.0})), _record(ModeResult(MODES["zmq"], {}, SETTINGS, "skipped", "x"))]
    b = [_record(_synthetic({0: 1.0, 1: 80.0})), _record(ModeResult(MODES["zmq"], {}, SETTINGS, "skipped", "x"))]
    rows = {r.metric: r for r in compare(a, b).rows}
    assert {"dispatch_recv_p50_us", "dispatch_recv_p99_us", "host_cpu_pct"} <= set(rows)
    assert rows["dispatch_recv_p50_us"].verdict == "WORSE"  # 20 us -> 80 us, each with a band of 0 (p50 == p99)
    assert all("zmq" not in r.label for r in compare(a, b).rows)
