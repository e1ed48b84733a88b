# SPDX-License-Identifier: Apache-2.0
"""benchmarks/make_readme_tables.py edits only between a document's markers; --check detects staleness.

Inputs are SYNTHETIC records (tests/helpers/synthetic_records.py) in a temporary checkout: a results folder and
a results page (docs/RESULTS_H200.md) of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import synthetic_records as syn
from waitbench.results import ResultsWriter

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "make_readme_tables.py"
PAGE = "# Results\n\nWritten by people.\n\n<!-- results:begin -->\nstale\n<!-- results:end -->\n\nAlso by people.\n"


def run(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(tmp), "--results-root", str(tmp / "results"),
                           *args], capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": ""})


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "results" / "h200").mkdir(parents=True)
    with ResultsWriter(tmp_path / "results" / "h200" / "run.jsonl") as w:
        for rec in syn.synthetic_run() + syn.synthetic_sweep():
            w.write(rec)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "RESULTS_H200.md").write_text(PAGE)
    return tmp_path


def page(tree: Path) -> Path:
    return tree / "docs" / "RESULTS_H200.md"


def test_check_fails_on_a_stale_readme_then_passes_after_writing(tree):
    stale = run(tree, "--check")
    assert stale.returncode == 1 and "out of date" in stale.stderr
    assert page(tree).read_text() == PAGE and not (tree / "docs" / "img").exists()
    assert run(tree).returncode == 0
    assert run(tree, "--check").returncode == 0
    assert (tree / "docs" / "img" / "headline.png").stat().st_size > 10_000


def test_only_the_marked_section_changes(tree):
    assert run(tree).returncode == 0
    text = page(tree).read_text()
    before, rest = text.split("<!-- results:begin -->")
    inside, after = rest.split("<!-- results:end -->")
    assert before == PAGE.split("<!-- results:begin -->")[0]
    assert after == PAGE.split("<!-- results:end -->")[1]
    assert "| nccl-shaped simple-16ch |" in inside and "stale" not in inside
    assert "Launch-shape sweep" not in inside  # the sweep is a chart, not a README table


def test_missing_markers_or_results_exit_2(tree):
    page(tree).write_text("# no markers\n")
    proc = run(tree)
    assert proc.returncode == 2 and "results:begin" in proc.stderr
    page(tree).write_text(PAGE)
    proc = run(tree, "--gpu", "a100")
    assert proc.returncode == 2 and "no *.jsonl" in proc.stderr


def test_the_committed_readme_matches_the_committed_results() -> None:
    """Every generated section (docs/RESULTS_H200.md: results, floor, nccl, diagnose sessions...; docs/DIAGNOSE.md:
    the confusion table; docs/RESULTS_H100.md) is up to date.
    """
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("mrt", root / "benchmarks" / "make_readme_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--check"]) == 0


def test_barrier_section_renders_every_machine_folder_and_draws_its_chart(tree: Path) -> None:
    for machine, gpu in (("cpu-x", False), ("gpu-y", True)):
        (tree / "results" / machine).mkdir()
        with ResultsWriter(tree / "results" / machine / "barrier.jsonl") as w:
            for rec in syn.synthetic_barrier_run(gpu=gpu):
                w.write(rec)
    page(tree).write_text(PAGE + "\n<!-- barrier:begin -->\n<!-- barrier:end -->\n")
    assert run(tree, "--check").returncode == 1
    assert run(tree).returncode == 0
    text = page(tree).read_text()
    inside = text.split("<!-- barrier:begin -->")[1].split("<!-- barrier:end -->")[0]
    assert inside.index("cpu-x/barrier.jsonl") < inside.index("gpu-y/barrier.jsonl")
    assert "| `shm-futex` spin 50 µs | 2 | 10.0 / 20.0 / 40.0 |  | 5.0 | 0.02 |  |" in inside
    assert "the late rank arrives at least 200 µs after all the others are waiting" in inside
    assert "| `mp-barrier` (Python) | 4 | 60.0 / 120 / 240 | 70.0 / 130 / 250 | 5.0 | 0.02 | 0.0 |" in inside
    assert "| `host-block` (threads of one process) | — |" in inside
    for machine in ("cpu-x", "gpu-y"):
        assert f"(img/barriers-{machine}.png)" in inside
        assert (tree / "docs" / "img" / f"barriers-{machine}.png").stat().st_size > 10_000
    assert run(tree, "--check").returncode == 0
