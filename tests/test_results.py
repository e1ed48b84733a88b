# SPDX-License-Identifier: Apache-2.0
"""Results records: schema, validation, JSON Lines round trip, torn lines, other versions (CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from waitbench import results
from waitbench.errors import ResultsError


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
    with pytest.raises(ValueError):
        results.set_null(rec, "x", "not_a_field")


def test_jsonl_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with results.ResultsWriter(path) as w:
        w.write(_rec())
        w.write(_rec(record_kind="workload", workload="fma", tput_ratio=0.97, tput_unit="TFLOP/s"))
    back = results.load_records(path)
    assert [r["record_kind"] for r in back] == ["waiter", "workload"]
    assert back[1]["tput_ratio"] == 0.97


def test_torn_last_line_is_skipped_but_a_torn_middle_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    line = json.dumps(_rec())
    path.write_text(line + "\n" + line[: len(line) // 2])
    assert len(results.load_records(path)) == 1
    path.write_text(line[:10] + "\n" + line + "\n")
    with pytest.raises(ResultsError, match=":1: not a JSON record"):
        results.load_records(path)


def test_other_schema_version_missing_and_empty_files_are_refused(tmp_path: Path) -> None:
    old = dict(_rec(), schema_version=results.SCHEMA_VERSION + 1)
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps(old) + "\n")
    with pytest.raises(ResultsError, match="schema_version"):
        results.load_records(path)
    with pytest.raises(ResultsError, match="no such results file"):
        results.load_records(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(ResultsError, match="no records"):
        results.load_records(tmp_path / "empty.jsonl")


def test_load_gives_a_dataframe_with_every_field(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    path = tmp_path / "r.jsonl"
    with results.ResultsWriter(path) as w:
        w.write(_rec())
    df = results.load(path)
    assert list(df.columns) == list(results.FIELD_NAMES) and len(df) == 1
