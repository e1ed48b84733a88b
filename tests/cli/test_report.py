# SPDX-License-Identifier: Apache-2.0
"""`waitbench report` end to end in a subprocess: formats, charts, and one-line errors with exit 2.

Inputs are SYNTHETIC records (tests/helpers/synthetic_records.py) and, when present, the real reference files.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import synthetic_records as syn
from helpers.reference_params import REFERENCE_FILES, reference_params
from waitbench.results import ResultsWriter

ROOT = Path(__file__).resolve().parents[2]


def waitbench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python"), "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "waitbench", *args], capture_output=True, text=True, env=env,
                          cwd=cwd or ROOT, timeout=120)


def one_line_error(proc: subprocess.CompletedProcess, code: int = 2) -> str:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("waitbench: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def results_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("results") / "run.jsonl"
    with ResultsWriter(path) as w:
        for rec in syn.synthetic_run(repetitions=2) + syn.synthetic_sweep():
            w.write(rec)
    return path


def test_table_is_the_default_and_fits_120_columns(results_file):
    proc = waitbench("report", str(results_file))
    assert proc.returncode == 0, proc.stderr
    assert "nccl-shaped simple-16ch" in proc.stdout and "Launch-shape sweep" in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) <= 120
    assert proc.stderr == ""


@pytest.mark.parametrize("fmt", ["markdown", "csv", "json"])
def test_machine_and_markdown_formats(results_file, fmt):
    proc = waitbench("report", str(results_file), "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    if fmt == "json":
        doc = json.loads(proc.stdout)
        assert [t["kind"] for t in doc["tables"]] == ["strategies", "sweep"]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(proc.stdout)))
        assert {r["table"] for r in rows} == {"strategies", "sweep"}
    else:
        assert proc.stdout.count("\n| spin") >= 2


def test_json_flag_is_format_json_and_contradiction_is_an_error(results_file):
    assert json.loads(waitbench("report", str(results_file), "--json").stdout)["tables"]
    assert "contradicts" in one_line_error(waitbench("report", str(results_file), "--json", "--format", "csv"))


def test_directory_input_and_plots(results_file, tmp_path):
    proc = waitbench("report", str(results_file.parent), "--plot", str(tmp_path / "h.png"),
                     "--plots-dir", str(tmp_path / "all"), "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "h.png").stat().st_size > 10_000
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["headline.png", "sweep.png", "tradeoff.png"]
    assert proc.stderr.count("wrote ") == 4


def test_quiet_writes_nothing_on_stderr(results_file, tmp_path):
    proc = waitbench("report", str(results_file), "--plot", str(tmp_path / "h.png"), "--quiet", "--format", "csv")
    assert proc.returncode == 0 and proc.stderr == "" and (tmp_path / "h.png").is_file()


def test_missing_file(tmp_path):
    assert "no such file or directory" in one_line_error(waitbench("report", str(tmp_path / "nope.jsonl")))


def test_other_schema_version(tmp_path, results_file):
    rec = json.loads(results_file.read_text().splitlines()[0])
    rec["schema_version"] = 999
    path = tmp_path / "future.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    assert "schema_version 999" in one_line_error(waitbench("report", str(path)))


def test_empty_run_file_and_empty_directory(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    assert "no records" in one_line_error(waitbench("report", str(tmp_path / "empty.jsonl")))
    (tmp_path / "dir").mkdir()
    assert "no *.jsonl" in one_line_error(waitbench("report", str(tmp_path / "dir")))


def test_no_input_is_a_usage_error():
    assert "RESULTS" in one_line_error(waitbench("report"))


def test_plot_of_several_runs_asks_for_plots_dir(tmp_path):
    path = tmp_path / "two.jsonl"
    with ResultsWriter(path) as w:
        for rec in syn.synthetic_run("r1") + syn.synthetic_run("r2"):
            w.write(rec)
    assert "--plots-dir" in one_line_error(waitbench("report", str(path), "--plot", str(tmp_path / "h.png")))


@pytest.mark.skipif(bool(REFERENCE_FILES), reason="reference results are installed")
def test_reference_without_files_says_so():
    assert "no reference results" in one_line_error(waitbench("report", "--reference"))


@pytest.mark.parametrize("path", reference_params())
@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json"])
def test_reference_renders_in_every_format(path, fmt):
    proc = waitbench("report", "--reference", "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def test_plot_never_overwrites_an_input(results_file, tmp_path):
    victim = tmp_path / "victim.jsonl"
    victim.write_bytes(results_file.read_bytes())
    before = victim.read_bytes()
    for args in (("--plot", str(victim)), ("--plot", str(victim), "--force")):
        line = one_line_error(waitbench("report", str(victim), *args))
        assert "--plot=" in line
    assert victim.read_bytes() == before
    png = tmp_path / "input.png"  # even an input whose name says image is never replaced
    png.write_bytes(before)
    assert "a file the report does not read" in one_line_error(
        waitbench("report", str(png), "--plot", str(png), "--force"))
    assert png.read_bytes() == before


def test_plot_refuses_a_file_that_is_not_its_image_unless_forced(results_file, tmp_path):
    notes = tmp_path / "notes.png"
    notes.write_text("my notes")
    assert "--force overwrites it" in one_line_error(waitbench("report", str(results_file), "--plot", str(notes)))
    assert notes.read_text() == "my notes"
    proc = waitbench("report", str(results_file), "--plot", str(notes), "--force", "--quiet", "--format", "csv")
    assert proc.returncode == 0 and notes.read_bytes().startswith(b"\x89PNG")
    proc = waitbench("report", str(results_file), "--plot", str(notes), "--quiet", "--format", "csv")
    assert proc.returncode == 0  # an image of its format is replaced freely


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".jpg", b"\xff\xd8\xff"), (".svg", b"<?xml"),
                                           (".pdf", b"%PDF-")])
def test_plot_format_follows_the_suffix(results_file, tmp_path, suffix, magic):
    out = tmp_path / f"h{suffix}"
    proc = waitbench("report", str(results_file), "--plot", str(out), "--quiet", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(magic)


@pytest.mark.parametrize("make_args, needle", [
    (lambda d, f: ["--plot", str(d / "h.txt")], "expected a file name ending in .png"),
    (lambda d, f: ["--plot", str(d / "h")], "expected a file name ending in .png"),
    (lambda d, f: ["--plot", str(d)], "not a directory"),
    (lambda d, f: ["--plot", ""], "--plot='' is invalid"),
    (lambda d, f: ["--plots-dir", str(f)], "expected a folder (this is a file"),
    (lambda d, f: ["--plots-dir", ""], "--plots-dir='' is invalid"),
])
def test_bad_plot_targets_are_one_line_before_any_output(results_file, tmp_path, make_args, needle):
    proc = waitbench("report", str(results_file), *make_args(tmp_path, results_file))
    assert needle in one_line_error(proc)
    assert proc.stdout == ""


@pytest.mark.parametrize("args, needle", [
    (("",), "RESULTS='' is invalid"),
    (("/proc/self/mem",), "/proc/self/mem: cannot read it (Input/output error)"),
])
def test_unreadable_inputs_are_one_line(args, needle):
    if args[0].startswith("/proc") and not Path(args[0]).exists():
        pytest.skip("no /proc/self/mem here")
    assert needle in one_line_error(waitbench("report", *args))


def test_malformed_lines_are_one_warning_line_and_the_rest_is_reported(results_file, tmp_path):
    path = tmp_path / "torn.jsonl"
    text = results_file.read_text()
    path.write_text(text[:-200] + "\n" + "[1]\n" + text)
    proc = waitbench("report", str(path), "--format", "csv")
    assert proc.returncode == 0
    line, repeated = proc.stderr.strip().splitlines()  # the file holds its records twice: counted once
    assert line.startswith(f"waitbench: warning: {path}: skipped 2 malformed lines (")
    assert repeated.startswith(f"waitbench: warning: {path}: ") and repeated.endswith(
        "records the same as records of the same file (same run id and content), counted once")
