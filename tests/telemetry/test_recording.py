# SPDX-License-Identifier: Apache-2.0
"""Recording windows as JSON Lines and reading them back (what --record / --replay and the tests use)."""

from __future__ import annotations

import json

import pytest

from helpers.synthetic_windows import GEMM, SPIN_1WARP
from waitbench.errors import MalformedLinesWarning, ResultsError
from waitbench.telemetry.recording import FORMAT_VERSION, RecordingWriter, iter_entries, read_lines, read_windows


def test_round_trip(tmp_path):
    path = tmp_path / "rec.jsonl"
    with RecordingWriter(path) as w:
        w.write("note", text="SYNTHETIC windows")
        w.window(SPIN_1WARP, scenario="spin-1warp", expected_verdict="busy-waiting")
        w.window(GEMM, scenario="gemm")
    windows = read_windows(path)
    assert [s for s, _ in windows] == [SPIN_1WARP, GEMM]
    assert windows[0][1]["expected_verdict"] == "busy-waiting"
    assert [line["kind"] for line in read_lines(path)] == ["note", "window", "window"]


def test_torn_last_line_is_skipped_and_named(tmp_path):
    path = tmp_path / "rec.jsonl"
    with RecordingWriter(path) as w:
        w.window(GEMM)
    with open(path, "a") as fh:
        fh.write('{"format_version": 1, "kind": "win')
    with pytest.warns(MalformedLinesWarning, match=r"rec.jsonl: skipped 1 malformed line \(2\); line 2: cut short"):
        assert len(read_windows(path)) == 1
    with RecordingWriter(path) as w:  # appending after the torn line starts a new line
        w.window(SPIN_1WARP)
    with pytest.warns(MalformedLinesWarning):
        assert [s for s, _ in read_windows(path)] == [GEMM, SPIN_1WARP]


@pytest.mark.parametrize("content, match", [
    ("", "no telemetry windows"),
    (json.dumps({"format_version": FORMAT_VERSION + 1, "kind": "window"}) + "\n", "format_version 2: this waitbench"),
    ("not json\n", "not a readable waitbench telemetry recording: line 1: not JSON"),
    (json.dumps({"schema_version": 2}) + "\n", ("line 1: has no format_version: .* \\(a results file\\? show it with: "
                                               "waitbench report\\)")),
    ("[1]\n", "line 1: is a JSON array"),
    (json.dumps({"format_version": FORMAT_VERSION, "kind": "window", "summary": {"name": "x"}}) + "\n",
     "line 1: a window line is malformed"),
    (json.dumps({"format_version": FORMAT_VERSION, "kind": "window", "summary": {**GEMM.to_dict(), "window_s": "x"}})
     + "\n", "summary has window_s='x'"),
    (json.dumps({"format_version": FORMAT_VERSION, "kind": "window", "summary": GEMM.to_dict(), "probe": 5}) + "\n",
     "probe is not a probe reading"),
])
def test_bad_files_raise_results_error_naming_file_and_line(tmp_path, content, match):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(ResultsError, match=match):
        read_windows(path)


def test_missing_file_directory_and_writer_paths(tmp_path):
    with pytest.raises(ResultsError, match=r"absent\.jsonl: no such file"):
        read_windows(tmp_path / "absent.jsonl")
    with pytest.raises(ResultsError, match="is a directory, not a waitbench telemetry recording"):
        read_windows(tmp_path)
    with pytest.raises(ValueError, match=r"record=.* is invalid: expected a file in an existing directory"):
        RecordingWriter(tmp_path / "no" / "dir.jsonl")
    with pytest.raises(ValueError, match=r"record=.* is invalid: expected a file, not a directory"):
        RecordingWriter(tmp_path)
    with pytest.raises(ValueError, match="record='' is invalid"):
        RecordingWriter("")


def test_writer_creates_its_file_at_the_first_line_only(tmp_path):
    path = tmp_path / "new.jsonl"
    RecordingWriter(path).close()
    assert not path.exists()  # e.g. diagnose --record without NVML leaves no empty file


@pytest.mark.parametrize("power", [-40.0, 0.0, 1e6, "120", None, True])
def test_a_baseline_line_with_a_power_no_gpu_idles_at_is_skipped_and_named(tmp_path, power):
    """A recorded warm-idle power judges every window after it: an implausible one is no baseline."""
    path = tmp_path / "rec.jsonl"
    with RecordingWriter(path) as w:
        w.write("baseline", uuid=GEMM.uuid, power_w=power)
        w.write("baseline", uuid=GEMM.uuid, power_w=75.0)
        w.window(GEMM)
    with pytest.warns(MalformedLinesWarning, match=r"skipped 1 malformed line \(1\); line 1: a baseline line needs "
                      r"a GPU uuid and a warm-idle power_w in \[1, 1000\] W"):
        entries = list(iter_entries(path))
    assert [k for k, _ in entries] == ["baseline", "window"] and entries[0][1]["power_w"] == 75.0
