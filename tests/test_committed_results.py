# SPDX-License-Identifier: Apache-2.0
"""Every committed results file (REAL measurements) loads through every entry point: waitbench.load(),
``waitbench report``, ``waitbench compare`` and the README generator, with no line skipped; and the
compact records report and compare keep give the same tables as full records.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import warnings
from pathlib import Path

import pytest

import waitbench
from waitbench.cli.main import main
from waitbench.report import render, tables
from waitbench.report.compact import compact_all
from waitbench.report.compare import compare, to_dict

ROOT = Path(__file__).resolve().parents[1]
# Results files only: diagnose's recordings (results/<gpu>/diagnose/, telemetry windows) are read by
# `diagnose --replay`, which the README generator runs on every one of them.
COMMITTED = sorted(p for p in {*ROOT.glob("benchmarks/results/**/*.jsonl"),
                               *ROOT.glob("benchmarks/examples/results/**/*.jsonl"),
                               *ROOT.glob("python/waitbench/report/reference_data/**/*.jsonl")}
                   if p.parent.name != "diagnose")
PARAMS = [pytest.param(p, id=str(p.relative_to(ROOT))) for p in COMMITTED]


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_the_committed_files_are_found() -> None:
    assert len(COMMITTED) >= 8, COMMITTED


@pytest.mark.parametrize("path", PARAMS)
def test_load_reads_every_line_as_a_record(path: Path) -> None:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a skipped line would be a MalformedLinesWarning
        df = waitbench.load(path)
    assert len(df) == len(lines)
    assert set(df["strategy_source"]) <= {"builtin", "registered"} and df["host_wait_in_python"].notna().all()


@pytest.mark.parametrize("path", PARAMS)
def test_report_and_compare_with_itself(path: Path) -> None:
    code, out, err = cli("report", str(path), "--format", "json")
    assert code == 0 and err == "", err
    assert json.loads(out)["tables"]
    code, out, err = cli("compare", str(path), str(path), "--json")
    assert code == 0 and err == "", err
    doc = json.loads(out)
    assert doc["rows"] and not doc["only_in_a"] and not doc["only_in_b"]
    assert {r["verdict"] for r in doc["rows"]} == {"SAME"}


def test_report_of_the_reference_folder_names_no_malformed_record() -> None:
    code, out, err = cli("report", str(ROOT / "benchmarks/results/h100"), "--format", "csv")
    assert code == 0 and err == "" and out.count("\n") > 50


def test_compare_matches_records_that_lack_options_added_later() -> None:
    """sweep-flag-poll.jsonl predates flag_lines; its spin points are sweep-lines.jsonl's flag_lines=shared."""
    a, b = (waitbench.load_records(ROOT / "benchmarks/results/h100" / n) for n in ("sweep-flag-poll.jsonl",
                                                                                   "sweep-lines.jsonl"))
    result = compare(a, b)
    shared = [r for r in result.rows if "flag_lines" not in r.label]
    assert len(shared) == 6  # blocks 16, 64, 132 x fma, stream: the points both runs measured
    assert result.only_b and all("flag_lines=per-poller" in n for n in result.only_b)


def test_examples_and_their_rerun_match_entirely() -> None:
    d = ROOT / "benchmarks/examples/results"
    code, out, _ = cli("compare", str(d / "h100.jsonl"), str(d / "h100-rerun.jsonl"), "--json")
    doc = json.loads(out)
    assert code == 0 and not doc["only_in_a"] and not doc["only_in_b"] and len(doc["rows"]) > 50


def test_the_readme_generator_reads_every_committed_folder() -> None:
    spec = importlib.util.spec_from_file_location("mrt", ROOT / "benchmarks" / "make_readme_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for folder in sorted({p.parent for p in COMMITTED}):
            assert "| " in mod.section([folder]), folder


@pytest.mark.parametrize("path", PARAMS)
def test_compact_records_render_and_compare_as_full_records(path: Path) -> None:
    full = waitbench.load_records(path)
    small = compact_all(full)
    for fmt in ("markdown", "json"):
        assert render.render_text(tables.build_tables(small), fmt) == render.render_text(tables.build_tables(full), fmt)
    assert to_dict(compare(small, small)) == to_dict(compare(full, full))
