# SPDX-License-Identifier: Apache-2.0
"""Results records: schema, validation, JSON Lines round trip, torn lines, other versions (CPU)."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import pytest

from waitbench import results
from waitbench.errors import DuplicateRecordsWarning, MalformedLinesWarning, ResultsError


def _rec(**kw: object) -> dict:
    base = {"record_kind": "waiter", "run_id": "r1", "strategy": "spin", "status": "ok", "nvml_util_pct": 99.5}
    base.update(kw)
    return results.new_record(**base)


def test_every_record_has_every_field_and_the_schema_version() -> None:
    rec = _rec()
    assert set(rec) == set(results.FIELD_NAMES)
    assert rec["schema_version"] == results.SCHEMA_VERSION
    assert rec["gpm_sm_util_pct"] is None


def test_metric_names_carry_units() -> None:
    units = ("_pct", "_us", "_w", "_ratio", "_ns", "_ms", "_s", "_mhz", "_bytes")
    metric_groups = results.TELEMETRY_FIELDS + results.WAKE_FIELDS
    for f in metric_groups:
        if f.kind == "float":
            assert f.name.endswith(units), f.name


def test_unknown_and_mistyped_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown record field"):
        results.new_record(record_kind="waiter", nvml_util=1.0)
    with pytest.raises(ValueError, match="nvml_util_pct='high' is invalid: expected float"):
        _rec(nvml_util_pct="high")
    with pytest.raises(ValueError, match="record_kind='bogus' is invalid"):
        _rec(record_kind="bogus")
    with pytest.raises(ValueError, match="status='fine' is invalid"):
        _rec(status="fine")


def test_set_null_records_the_reason() -> None:
    rec = _rec()
    results.set_null(rec, "GPM needs Hopper or newer", "gpm_sm_util_pct", "gpm_sm_occupancy_pct")
    assert rec["null_reasons"]["gpm_sm_util_pct"] == "GPM needs Hopper or newer"
    with pytest.raises(ValueError, match="unknown record field 'not_a_field'"):
        results.set_null(rec, "x", "not_a_field")


def test_jsonl_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with results.ResultsWriter(path) as w:
        w.write(_rec())
        w.write(_rec(record_kind="workload", workload="fma", tput_ratio=0.97, tput_unit="TFLOP/s"))
    back = results.load_records(path)
    assert [r["record_kind"] for r in back] == ["waiter", "workload"]
    assert back[1]["tput_ratio"] == 0.97


def test_malformed_lines_anywhere_are_skipped_and_named_in_one_warning(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    line, other = json.dumps(_rec(run_id="a")), json.dumps(_rec(run_id="b"))  # the same record twice is read once
    path.write_text(line[:10] + "\n" + line + "\n[1, 2]\nnull\n" + other + "\n" + line[: len(line) // 2])
    with pytest.warns(MalformedLinesWarning) as caught:
        assert len(results.load_records(path)) == 2
    (w,) = caught
    assert str(w.message) == (f"{path}: skipped 4 malformed lines (1, 3, 4, 6); line 1: not JSON (Unterminated "
                              "string starting at)")


def test_a_record_of_the_first_schema_loads_with_the_defaults_of_later_fields(tmp_path: Path) -> None:
    """Version 1 records written before research strategies lack two fields; they get their defaults."""
    old = _rec()
    old["schema_version"] = 1
    del old["strategy_source"], old["host_wait_in_python"]
    path = tmp_path / "v1.jsonl"
    path.write_text(json.dumps(old) + "\n")
    (back,) = results.load_records(path)
    assert back["strategy_source"] == "builtin" and back["host_wait_in_python"] is False
    assert back["schema_version"] == 1  # provenance is kept
    assert results.SCHEMA_HISTORY[2] == "strategy_source, host_wait_in_python"
    current = _rec()
    del current["strategy_source"]
    path.write_text(json.dumps(current) + "\n")  # a current record must carry every field
    with pytest.raises(ResultsError, match=r"line 1: record lacks field\(s\) \['strategy_source'\]"):
        results.load_records(path)


def test_newer_schema_missing_and_empty_files_are_refused(tmp_path: Path) -> None:
    newer = dict(_rec(), schema_version=results.SCHEMA_VERSION + 1)
    path = tmp_path / "newer.jsonl"
    path.write_text(json.dumps(newer) + "\n")
    with pytest.raises(ResultsError, match=f"{path}: schema_version {results.SCHEMA_VERSION + 1} is newer"):
        results.load_records(path)
    with pytest.raises(ResultsError, match=r"missing\.jsonl: no such file"):
        results.load_records(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(ResultsError, match="no records"):
        results.load_records(tmp_path / "empty.jsonl")


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with results.ResultsWriter(path) as w:
        w.write(_rec())
    with pytest.warns(DuplicateRecordsWarning, match=r"r.jsonl: the same file as .*r.jsonl, read once \(and 1 more\)"):
        assert len(results.load_records([path, tmp_path, str(path)])) == 1


def test_load_gives_a_dataframe_with_every_field(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    path = tmp_path / "r.jsonl"
    with results.ResultsWriter(path) as w:
        w.write(_rec())
    df = results.load(path)
    assert list(df.columns) == list(results.FIELD_NAMES) and len(df) == 1


def _two_runs(path: Path) -> None:
    with results.ResultsWriter(path) as w:
        for run, rep in (("a", 0), ("a", 1), ("b", 0)):
            w.write(_rec(run_id=run, repetition=rep))


@pytest.mark.parametrize("how", ["same path twice", "folder and a file in it", "hard link", "symbolic link"])
def test_the_same_file_given_twice_is_read_once_with_one_warning(tmp_path: Path, how: str) -> None:
    path = tmp_path / "r.jsonl"
    _two_runs(path)
    other = {"same path twice": path, "folder and a file in it": tmp_path, "hard link": tmp_path / "link.txt",
             "symbolic link": tmp_path / "sym.txt"}[how]
    if how == "hard link":
        os.link(path, other)
    elif how == "symbolic link":
        other.symlink_to(path)
    with pytest.warns(DuplicateRecordsWarning) as caught:
        assert len(results.load_records([path, other])) == 3
    (w,) = caught
    assert str(w.message).startswith(f"{path if how == 'folder and a file in it' else other}: the same file as ")


def test_identical_records_given_twice_are_counted_once_with_one_warning(tmp_path: Path) -> None:
    path, copy = tmp_path / "r.jsonl", tmp_path / "copy" / "r.jsonl"
    _two_runs(path)
    copy.parent.mkdir()
    shutil.copy(path, copy)
    with open(copy, "ab") as fh:  # the copy also holds the same records twice, and one of its own
        fh.write(path.read_bytes())
    with results.ResultsWriter(copy) as w:
        w.write(_rec(run_id="c"))
    with pytest.warns(DuplicateRecordsWarning) as caught:
        recs = results.load_records([path, copy])
    assert [(r["run_id"], r["repetition"]) for r in recs] == [("a", 0), ("a", 1), ("b", 0), ("c", None)]
    (w,) = caught
    assert str(w.message) == f"{copy}: 6 records the same as records of {path} (same run id and content), counted once"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same measurement in another run is not a duplicate
        assert len(results.load_records([path])) == 3


def test_a_field_says_whether_it_may_be_none() -> None:
    never = {f.name for f in results.FIELDS if not f.nullable}
    assert never == {"schema_version", "record_kind", "null_reasons"}
    rec = _rec()
    rec["null_reasons"] = None
    with pytest.raises(ValueError, match=r"null_reasons=None is invalid: expected dict \(this field is never None\)"):
        results.validate(rec)
    for bad in (float("nan"), float("-inf")):
        rec = _rec()
        rec["power_w"] = bad
        with pytest.raises(ValueError, match=r"power_w=.* is invalid: expected a finite number, or None"):
            results.validate(rec)
    rec = _rec()
    rec["waiter_blocks"] = 10**400
    with pytest.raises(ValueError, match=r"waiter_blocks=<an integer of 1329 bits> is invalid"):
        results.validate(rec)
