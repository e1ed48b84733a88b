# SPDX-License-Identifier: Apache-2.0
"""`waitbench compare A B` end to end in a subprocess: verdicts, warnings, formats, exit codes.

Inputs are SYNTHETIC records (tests/helpers/synthetic_records.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import synthetic_records as syn
from waitbench.results import ResultsWriter

from .test_report import one_line_error, waitbench


def _write(path: Path, records: list[dict]) -> Path:
    with ResultsWriter(path) as w:
        for rec in records:
            w.write(rec)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("cmp")
    a = _write(d / "a.jsonl", syn.synthetic_run("A"))
    b = _write(d / "b.jsonl", syn.with_changes(syn.synthetic_run("B", scale={"nccl-shaped": 0.9}), "B",
                                               driver_version="999.1"))
    return a, b


def test_table_shows_the_worse_rows_and_warns_about_the_driver(runs):
    proc = waitbench("compare", str(runs[0]), str(runs[1]))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("WORSE") == 3 + 1  # three rows and the summary
    assert proc.stderr.strip() == "warning: driver_version differs: A has 0.0.0-synthetic; B has 999.1"


def test_json_verdicts_and_threshold(runs):
    doc = json.loads(waitbench("compare", str(runs[0]), str(runs[1]), "--json").stdout)
    assert doc["counts"]["WORSE"] == 3 and doc["warnings"]
    worse = [r for r in doc["rows"] if r["verdict"] == "WORSE"]
    assert {r["workload"] for r in worse} == {"gemm", "fma", "stream"}
    doc = json.loads(waitbench("compare", str(runs[0]), str(runs[1]), "--format", "json", "--threshold", "15").stdout)
    assert doc["counts"]["WORSE"] == 0 and doc["threshold_pct"] == 15.0


@pytest.mark.parametrize("fmt", ["markdown", "csv"])
def test_text_formats(runs, fmt):
    proc = waitbench("compare", str(runs[0]), str(runs[1]), "--format", fmt)
    assert proc.returncode == 0 and "tput_ratio" in proc.stdout


def test_fail_on_worse_exits_1(runs):
    assert waitbench("compare", str(runs[0]), str(runs[1]), "--fail-on-worse").returncode == 1
    assert waitbench("compare", str(runs[0]), str(runs[0]), "--fail-on-worse").returncode == 0


def test_bad_input_is_one_line_and_exit_2(runs, tmp_path):
    assert "no such file" in one_line_error(waitbench("compare", str(runs[0]), str(tmp_path / "nope.jsonl")))
    assert "threshold=-1.0 is invalid" in one_line_error(
        waitbench("compare", str(runs[0]), str(runs[1]), "--threshold", "-1"))
    assert "argument --threshold" in one_line_error(
        waitbench("compare", str(runs[0]), str(runs[1]), "--threshold", "lots"))
