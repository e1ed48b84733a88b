# SPDX-License-Identifier: Apache-2.0
"""Recording windows as JSON Lines and reading them back (what --record / --replay and the tests use)."""

from __future__ import annotations

import json

import pytest
from synthetic_windows import GEMM, SPIN_1WARP
from waitbench.errors import ResultsError
from waitbench.telemetry.recording import FORMAT_VERSION, RecordingWriter, read_lines, read_windows


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


def test_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "rec.jsonl"
    with RecordingWriter(path) as w:
        w.window(GEMM)
    with open(path, "a") as fh:
        fh.write('{"format_version": 1, "kind": "win')
    assert len(read_windows(path)) == 1


@pytest.mark.parametrize("content, match", [
    ("", "no telemetry windows"),
    (json.dumps({"format_version": FORMAT_VERSION + 1, "kind": "window"}) + "\n", "format"),
    ("not json\n" + json.dumps({"format_version": FORMAT_VERSION, "kind": "note"}) + "\n", "not a JSON line"),
    (json.dumps({"format_version": FORMAT_VERSION, "kind": "window", "summary": {"name": "x"}}) + "\n", "malformed"),
])
def test_bad_files_raise_results_error(tmp_path, content, match):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(ResultsError, match=match):
        read_windows(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ResultsError, match="no such recording"):
        read_windows(tmp_path / "absent.jsonl")
    with pytest.raises(ValueError, match="record="):
        RecordingWriter(tmp_path / "no" / "dir.jsonl")
