# SPDX-License-Identifier: Apache-2.0
"""benchmarks/readme_twogpu.py through make_readme_tables.py: placeholders without results, tables with them.

A temporary checkout: SYNTHETIC results (tests/helpers/synthetic_records.py for the main table; delay checks
and overhead JSON written here; tp_worker recordings of rings the real plugin wrote through the fake NCCL
host; dispatch records copied from the committed CPU run) under results/h100-x2/, as the two-GPU scripts
would leave them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import synthetic_records as syn
from helpers.fake_nccl_host import run_rank_process
from waitbench.errors import WaitbenchError
from waitbench.profiler.library import plugin_path
from waitbench.profiler.recording import load_sources, write_recording
from waitbench.results import ResultsWriter

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "make_readme_tables.py"
MARKERS = ("profiler-delays", "profiler-overhead", "profiler-seed", "dispatch-nccl")
PAGE = "# Results\n\n<!-- results:begin -->\n<!-- results:end -->\n\nBy people.\n\n" + "".join(
    f"<!-- {m}:begin -->\nstale\n<!-- {m}:end -->\n\nText {m}.\n\n" for m in MARKERS)
MS = 1_000_000


def run(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(tmp), "--results-root", str(tmp / "results"),
                           *args], capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": ""})


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "results" / "h200").mkdir(parents=True)
    (tmp_path / "results" / "h200-x2").mkdir()  # a two-GPU folder of other results: not ours
    with ResultsWriter(tmp_path / "results" / "h200" / "run.jsonl") as w:
        for rec in syn.synthetic_run():
            w.write(rec)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "RESULTS_H200.md").write_text(PAGE)
    return tmp_path


def _cell(proto: str, delay: float, late_share: float) -> dict:
    verdict = "PASS" if late_share >= 0.99 else "MISS"
    return {"proto": proto, "collective": "all_reduce", "size": 8, "delay_ms": delay, "instances": 100, "missing": 0,
            "late_share": late_share, "late_verdict": verdict, "injected_mean_s": delay / 1e3 + 6e-5,
            "wait_abs_error_p50_s": 4e-6, "wait_abs_error_max_s": 2.1e-5, "wait_within_share": 1.0,
            "wait_verdict": "PASS", "wait_share": 0.98, "wait_share_expected": 0.979,
            "wait_share_range": [0.93, 1.0], "wait_share_verdict": "PASS"}


def _seed_recording(folder: Path, fix: str, late_ns: int, monkeypatch) -> None:
    try:
        library = str(plugin_path())
    except WaitbenchError as exc:
        pytest.skip(str(exc))
    rings = folder / f"rings-{fix}"
    rings.mkdir()
    monkeypatch.setenv("WAITBENCH_PROFILER_DIR", str(rings))
    monkeypatch.setenv("WAITBENCH_PROFILER_JOB", fix)
    for rank, arrival in ((1, late_ns), (0, 0)):  # rank 0 idles in the broadcast, rank 1 (the root) is late
        run_rank_process(library, rings, {"comm_id": 0xB0, "rank": rank, "n_ranks": 2, "collectives": [
            {"func": "Broadcast", "starts": [10**12 + arrival], "stops": [10**12 + late_ns + MS]}]})
    write_recording(folder / f"tp_worker-{fix}.jsonl", load_sources([rings], job=fix))
    shutil.rmtree(rings)


@pytest.fixture
def measured(tree: Path, monkeypatch) -> Path:
    d = tree / "results" / "h100-x2"
    d.mkdir()
    cells = [_cell("LL", 1, 1.0), _cell("Simple", 1000, 0.9)]
    (d / "profiler_delays.json").write_text(json.dumps({
        "settings": {"gpu_name": "FAKE GPU", "nccl_version": "2.28.9", "world": 2, "late_rank": 1},
        "cells": cells, "overall": {"cells": 2, "instances": 200, "late_share": 0.95, "late_verdict": "MISS",
                                    "cells_missing_a_target": 1, "verdict": "MISS"},
        "exporter": {"LL": {"late_total": {"1": 99.0}, "most_late_rank": "1", "verdict": "PASS"}},
        "job_errors": {"LL128": "the LL128 job exited with 1\x1b[31m"},
        "protocols": {"LL": {"seen": {"LL": 400}, "verdict": "PASS"}}}))
    fig = {"median": 20.5, "min": 20.1, "max": 21.0}
    (d / "profiler_overhead.json").write_text(json.dumps({
        "figures": {"plain": {"small_us": fig, "large_gbps": fig}, "plugin": {"small_us": fig, "large_gbps": fig}},
        "latency_cost": 0.012, "bandwidth_cost": -0.001,
        "jobs": [{"gpu_name": "FAKE GPU", "nccl_version": "2.28.9"}] * 6}))
    _seed_recording(d, "none", 3000 * MS, monkeypatch)
    _seed_recording(d, "host-barrier", 20_000, monkeypatch)
    shutil.copy(ROOT / "benchmarks" / "results" / "cpu-2core" / "dispatch.jsonl", d / "dispatch.jsonl")
    return tree


def sections(text: str) -> dict[str, str]:
    return {m: text.split(f"<!-- {m}:begin -->")[1].split(f"<!-- {m}:end -->")[0] for m in MARKERS}


def test_without_results_each_section_names_the_command_and_check_passes(tree):
    assert run(tree).returncode == 0
    text = (tree / "docs" / "RESULTS_H200.md").read_text()
    got = sections(text)
    assert all("Not measured yet: `bash benchmarks/two_gpu_" in v for v in got.values())
    assert "two_gpu_dispatch.sh" in got["dispatch-nccl"] and "two_gpu_profiler.sh" in got["profiler-seed"]
    assert all(f"Text {m}." in text for m in MARKERS) and "By people." in text
    assert run(tree, "--check").returncode == 0


def test_with_results_the_tables_are_generated(measured):
    assert run(measured).returncode == 0
    got = sections((measured / "docs" / "RESULTS_H200.md").read_text())
    assert "**h100-x2**: FAKE GPU, NCCL 2.28.9, 2 ranks" in got["profiler-delays"]
    assert "| LL | all_reduce | 8 | 1 | 1.060 | 100 | 100.0% PASS |" in got["profiler-delays"]
    assert "90.0% MISS" in got["profiler-delays"] and "**MISS**" in got["profiler-delays"]
    assert "LL PASS (most late: rank 1)" in got["profiler-delays"]
    assert "Protocols NCCL used under NCCL_PROTO=LL: LL (400) PASS." in got["profiler-delays"]
    assert "The LL128 job failed: the LL128 job exited with 1\\x1b[31m." in got["profiler-delays"]  # shown inert
    assert "20.50 (20.10 .. 21.00)" in got["profiler-overhead"] and "latency +1.2%" in got["profiler-overhead"]
    none, fixed = got["profiler-seed"].split("with the host-barrier fix")
    assert "rank 0 waited 3 s on rank 1 in Broadcast, 100%" in none and "| 0 | · | 3 s |" in none
    assert "rank 0 waited 20 µs on rank 1 in Broadcast, 2%" in fixed
    assert "shm-ring-futex" in got["dispatch-nccl"] and "from h100-x2/dispatch.jsonl" in got["dispatch-nccl"]
    assert run(measured, "--check").returncode == 0


def test_the_printer_prints_one_folder_and_refuses_bad_usage(measured):
    script = ROOT / "benchmarks" / "readme_twogpu.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    got = subprocess.run([sys.executable, str(script), "profiler", str(measured / "results" / "h100-x2")],
                         capture_output=True, text=True, timeout=60, env=env)
    assert got.returncode == 0 and "FAKE GPU" in got.stdout and "waited 3 s" in got.stdout
    bad = subprocess.run([sys.executable, str(script), "nope", "x"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
