# SPDX-License-Identifier: Apache-2.0
"""The metric table is the one declaration: records, compact readers, diagnose and gauges derive from it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from waitbench import results
from waitbench.metrics import GAUGED, REPORTED, SUMMARIZED, TELEMETRY_METRICS
from waitbench.report.compact import READ_FIELDS
from waitbench.telemetry.summary import WindowSummary

METRICS_DOC = Path(__file__).resolve().parents[1] / "docs" / "METRICS.md"


def test_every_table_entry_is_a_record_field_of_its_version():
    fields = {f.name: f for f in results.FIELDS}
    for m in TELEMETRY_METRICS:
        assert fields[m.name].kind == m.kind and fields[m.name].since == m.since, m.name
        assert m.since <= results.SCHEMA_VERSION and m.since in results.SCHEMA_HISTORY
    assert max(m.since for m in TELEMETRY_METRICS) <= results.SCHEMA_VERSION


def test_every_table_entry_is_documented():
    doc = METRICS_DOC.read_text(encoding="utf-8")
    missing = [m.name for m in TELEMETRY_METRICS if f"`{m.name}`" not in doc]
    assert not missing, f"docs/METRICS.md does not name {missing}"


def test_window_attributes_exist_and_reported_metrics_are_kept_compact():
    attrs = {f.name for f in dataclasses.fields(WindowSummary)}
    assert all(m.window in attrs for m in TELEMETRY_METRICS if m.window)
    assert all(m.summarize in ("mean", "max") for m in SUMMARIZED)
    assert {m.name for m in REPORTED} <= set(READ_FIELDS)


def test_gauges_follow_prometheus_names():
    names = [m.gauge.name for m in GAUGED if m.gauge]
    assert len(set(names)) == len(names)
    for m in GAUGED:
        assert m.gauge is not None and m.gauge.name.startswith("waitbench_"), m.name
        assert "NVML" in m.gauge.help or "nvml" in m.gauge.help, m.name


def test_a_table_metric_reaches_diagnose_json_and_a_gauge():
    from waitbench.diagnose.exporter import GAUGES
    from waitbench.diagnose.rows import verdict_rows

    s = WindowSummary(uuid="GPU-a", index=0, name="SYNTHETIC GPU (test fixture, not a measurement)", window_s=3.0,
                      sm_clock_mhz=1980.0, mem_clock_mhz=2619.0)
    row = verdict_rows([s])[0]
    d = row.to_dict()
    assert d["mem_clock_mhz"] == 2619.0 and d["sm_clock_mhz"] == 1980.0 and "metrics" not in d
    gauge = next(g for g in GAUGES if g.name == "waitbench_memory_clock_hertz")
    assert gauge.value(row) == 2619.0e6
    s.null("mem_clock_mhz", "not supported")
    assert gauge.value(verdict_rows([s])[0]) is None


def test_a_table_metric_reaches_the_record():
    s = WindowSummary(uuid="GPU-a", index=0, name="SYNTHETIC GPU (test fixture, not a measurement)", window_s=3.0,
                      mem_clock_mhz=2619.0)
    s.null("sm_clock_mhz", "not supported (fake)")
    rec = results.new_record(record_kind="waiter")
    s.fill_record(rec)
    results.validate(rec)
    assert rec["mem_clock_mhz"] == 2619.0 and "mem_clock_mhz" not in rec["null_reasons"]
    assert rec["sm_clock_mhz"] is None and rec["null_reasons"]["sm_clock_mhz"] == "not supported (fake)"
