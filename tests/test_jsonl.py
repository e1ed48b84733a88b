# SPDX-License-Identifier: Apache-2.0
"""JSON Lines written as a run goes and read back whatever happened to the file: torn lines, appends
after them, files of another kind, encodings, folders, unreadable files (CPU; SYNTHETIC records).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from waitbench import jsonl, results
from waitbench.errors import MalformedLinesWarning, ResultsError


def _rec(run_id: str = "r1") -> dict:
    return results.new_record(record_kind="waiter", run_id=run_id, strategy="spin", status="ok", nvml_util_pct=99.5)


def test_appending_after_a_torn_line_never_glues_the_next_record_to_it(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with results.ResultsWriter(path) as w:
        w.write(_rec("a"))
    with open(path, "a") as fh:  # a run killed mid-write
        fh.write(json.dumps(_rec("torn"))[:40])
    for run in ("b", "c"):  # two later runs append to the same file
        with results.ResultsWriter(path) as w:
            w.write(_rec(run))
    with pytest.warns(MalformedLinesWarning, match=r"skipped 1 malformed line \(2\); line 2: not JSON"):
        assert [r["run_id"] for r in results.load_records(path)] == ["a", "b", "c"]


def test_writers_create_nothing_until_the_first_record(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "r.jsonl"
    w = results.ResultsWriter(path)
    w.close()
    assert not (tmp_path / "new").exists()
    with results.ResultsWriter(path) as w:
        w.write(_rec())
    assert path.is_file() and path.read_text().count("\n") == 1


@pytest.mark.parametrize("content", ["# notes\nnot results\n", '{"format_version": 1, "kind": "note"}\n'])
def test_a_file_of_another_kind_is_never_appended_to(tmp_path: Path, content: str) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"out=.* is invalid: expected a new file or a results file to append to"):
        results.ResultsWriter(path)
    assert path.read_text() == content


@pytest.mark.parametrize("name, needle", [
    ("", "out='' is invalid"),
    (".", "expected a file, not a directory"),
    ("a-file/r.jsonl", "is not a folder"),
])
def test_bad_output_paths_are_refused_up_front(tmp_path: Path, name: str, needle: str) -> None:
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ValueError, match=needle):
        results.ResultsWriter(str(tmp_path / name) if name else name)


def test_utf8_bom_crlf_and_blank_lines_are_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(_rec()).encode() + b"\r\n\r\n" + json.dumps(_rec("b")).encode())
    assert [r["run_id"] for r in results.load_records(path)] == ["r1", "b"]


@pytest.mark.parametrize("data, needle", [
    (b"\x89PNG\r\n\x1a\n" + bytes(range(128, 256)), "line 1: not UTF-8 text"),
    ("café\n".encode("latin-1"), "line 1: not UTF-8 text"),
    (b"[1, 2]\n", "line 1: is a JSON array, not a record object"),
    (b"null\n", "line 1: is a JSON null"),
    (b'{"format_version": 1, "kind": "note"}\n', ("has no schema_version: not a waitbench results record "
                                                 "(a telemetry recording?")),
])
def test_a_file_with_no_record_names_itself_and_what_is_wrong(tmp_path: Path, data: bytes, needle: str) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_bytes(data)
    with pytest.raises(ResultsError) as exc:
        results.load_records(path)
    assert str(exc.value).startswith(f"{path}: not a ") and needle in str(exc.value)


def test_folders_special_and_unreadable_files_are_one_results_error(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ResultsError, match="is a directory"):
        list(results.iter_records(tmp_path))
    if Path("/proc/self/mem").exists():  # opens, then every read fails with EIO
        with pytest.raises(ResultsError, match=r"/proc/self/mem: cannot read it \(Input/output error\)"):
            list(results.iter_records("/proc/self/mem"))
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(_rec()) + "\n")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(jsonl, "open", denied, raising=False)  # root reads anything: the refusal is simulated
    with pytest.raises(ResultsError, match=r"r.jsonl: cannot read it \(Permission denied\)"):
        list(results.iter_records(path))


def test_an_overlong_line_is_skipped_without_reading_it_whole(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 8000)  # a record line is about 3 kB
    path = tmp_path / "r.jsonl"
    path.write_text("x" * 50_000 + "\n" + json.dumps(_rec()) + "\n")
    with pytest.warns(MalformedLinesWarning, match="line 1: longer than"):
        assert len(results.load_records(path)) == 1


def test_records_are_fsynced_as_they_are_written(tmp_path: Path, monkeypatch) -> None:
    synced = []
    real = os.fsync
    monkeypatch.setattr(jsonl.os, "fsync", lambda fd: synced.append(fd) or real(fd))
    with results.ResultsWriter(tmp_path / "r.jsonl") as w:
        w.write(_rec())
        w.write(_rec())
    assert len(synced) == 2


def test_many_malformed_lines_are_counted_and_the_first_named(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("junk\n" * 20 + json.dumps(_rec()) + "\n")
    with pytest.warns(MalformedLinesWarning) as caught:
        assert len(results.load_records(path)) == 1
    assert str(caught[0].message) == (f"{path}: skipped 20 malformed lines (1, 2, 3, 4, 5, 6, 7, 8, ...); line 1: "
                                      "not JSON (Expecting value)")


def _line_with(rec_text: str, field: str, raw_value: str) -> str:
    """``rec_text`` (one record's JSON) with ``field``'s value replaced by the JSON text ``raw_value``."""
    obj = json.loads(rec_text)
    obj[field] = "@@"
    return json.dumps(obj).replace('"@@"', raw_value, 1)


HOSTILE = [  # (field, its raw JSON value, what the warning says)
    ("extra", "[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels"),
    ("extra", "{\"a\":" * 900 + "1" + "}" * 900, "nested deeper than 64 levels"),
    ("options", "[" * 65 + "]" * 65, "nested deeper than 64 levels"),
    ("nvml_util_pct", "NaN", "holds NaN, which is no JSON number"),
    ("power_w", "Infinity", "holds Infinity"),
    ("power_w", "-Infinity", "holds -Infinity"),
    ("power_w", "1e400", "holds the number 1e400, beyond a float's range"),
    ("power_w", "-2.5E+309", "beyond a float's range"),
    ("power_w", "1" + "0" * 400, "beyond 64 bits"),
    ("waiter_blocks", "9223372036854775808", "holds the integer 9223372036854775808, beyond 64 bits"),
    ("extra", "{\"big\": " + "9" * 5000 + "}", "beyond 64 bits"),
    ("strategy", '"\\ud800 lone"', "lone UTF-16 surrogate"),
]


@pytest.mark.parametrize("field, raw, needle", HOSTILE, ids=[f"{f}={r[:12]}" for f, r, _ in HOSTILE])
def test_hostile_lines_are_skipped_with_the_one_warning_naming_file_and_line(tmp_path: Path, field: str, raw: str,
                                                                           needle: str) -> None:
    good = json.dumps(_rec("good"))
    path = tmp_path / "r.jsonl"
    path.write_text(good + "\n" + _line_with(good, field, raw) + "\n")
    with pytest.warns(MalformedLinesWarning) as caught:
        (rec,) = results.load_records(path)
    assert rec["run_id"] == "good"
    (w,) = caught
    assert str(w.message).startswith(f"{path}: skipped 1 malformed line (2); line 2: ") and needle in str(w.message)


def test_the_edges_of_what_is_read_are_kept() -> None:
    """64 levels, the int64 range and the largest float are values, as are escaped surrogate pairs."""
    assert jsonl.loads("[" * 64 + "]" * 64) is not None
    assert jsonl.loads("[-9223372036854775808, 9223372036854775807, 1.7976931348623157e308]")[2] > 1e308
    assert jsonl.loads('"\\ud83d\\ude00"') == "\U0001F600"
    with pytest.raises(ValueError, match="not UTF-8"):
        jsonl.loads(b"\xff")


def test_non_finite_values_are_never_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"nvml_util_pct=nan is invalid: expected a finite number"):
        results.new_record(record_kind="waiter", run_id="r", nvml_util_pct=float("nan"))
    rec = _rec()
    rec["extra"] = {"x": float("inf")}  # free-form fields are not typed; the writer still refuses it
    w = results.ResultsWriter(tmp_path / "r.jsonl")
    with pytest.raises(ValueError, match="cannot write NaN or an infinity"):
        w.write(rec)
    w.close()
    assert not (tmp_path / "r.jsonl").exists()


def test_a_file_whose_first_record_is_over_a_mebibyte_is_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    big = _rec("big")
    big["extra"] = {"blob": "x" * (3 << 20)}
    with results.ResultsWriter(path) as w:
        w.write(big)
    with results.ResultsWriter(path) as w:  # refused before: its first line was read 1 MiB only
        w.write(_rec("next"))
    assert [r["run_id"] for r in results.load_records(path)] == ["big", "next"]
