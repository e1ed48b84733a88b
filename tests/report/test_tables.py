# SPDX-License-Identifier: Apache-2.0
"""Report tables: pivoting (one row per strategy + options), cell texts, and every output format.

Inputs are SYNTHETIC records (tests/helpers/synthetic_records.py) and, when present, the real reference files.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from rich.console import Console

from helpers import synthetic_records as syn
from helpers.reference_params import reference_params
from waitbench.report import pivot, render, tables
from waitbench.results import load_records


@pytest.fixture(scope="module")
def suite() -> list[dict]:
    return syn.synthetic_run(repetitions=3) + syn.synthetic_sweep()


def _rich_text(t: render.TableData, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    render.print_rich([t], console)
    return console.export_text()


def test_one_row_per_strategy_and_option_set_in_table_order(suite):
    rows = tables.strategy_rows(suite)
    assert [r.label for r in rows] == ["spin", "spin blocks=132 threads=1024", "spin-backoff",
                                       "nccl-shaped simple-16ch", "stream-wait-value", "host-spin", "host-block"]
    assert all(r.repetitions == 3 for r in rows)
    assert list(rows[0].tput) == ["gemm", "fma", "stream"]


def test_repetitions_fold_to_the_median_and_their_range_widens_the_spread(suite):
    gemm = tables.strategy_rows(suite)[0].tput["gemm"]
    assert gemm.ratio == pytest.approx(0.99 * 1.001)  # median of 0.99 x (1, 1.001, 1.002)
    assert gemm.spread_pct == 0.4  # the recorded spread exceeds the 0.2% range between repeats
    recs = [syn.workload_record("r", "spin", {}, "fma", r, rep=i, spread_pct=0.4)
            for i, r in enumerate((0.9, 1.0, 0.95))]
    cell = tables.tput_cell(recs)
    assert cell.ratio == 0.95 and cell.spread_pct == pytest.approx(100 * 0.1 / 0.95)  # range between repeats wins


def test_stalled_noisy_and_unmeasured_cells_say_so(suite):
    rows = {r.label: r for r in tables.strategy_rows(suite)}
    big = rows["spin blocks=132 threads=1024"]
    assert big.tput["gemm"].text() == "stalled" and big.tput["gemm"].cost_ratio() == 0.0
    assert big.min_cost_ratio() == 0.0
    assert rows["spin-backoff"].tput["fma"].text().endswith(tables.NOISY_MARK)
    assert rows["host-spin"].metrics["gpm_sm_util_pct"] is None
    cells = {c[0]: c for c in tables.build_tables(suite)[0].cells}
    assert cells["host-spin"][2] == render.NA and cells["spin blocks=132 threads=1024"][4] == "stalled"


def test_a_partial_stall_keeps_the_measured_ratio_and_counts_stalls():
    recs = [syn.workload_record("r", "spin", {}, "fma", 0.5, rep=0),
            syn.workload_record("r", "spin", {}, "fma", "stalled", rep=1)]
    cell = tables.tput_cell(recs)
    assert cell.status == "ok" and cell.ratio == 0.5 and cell.n_stalled == 1
    assert cell.text() == "0.50 (1/2 stalled)"


def test_a_waiter_that_expired_says_so_beside_its_verdict():
    recs = syn.synthetic_run()
    for rec in recs:
        if rec["record_kind"] == "waiter" and rec["strategy"] == "host-block":
            rec["status"] = "expired"
    cells = {c[0]: c for c in tables.build_tables(recs)[0].cells}
    assert cells["host-block"][-1] == "idle (expired)" and cells["host-spin"][-1] == "idle"


def test_labels_name_preset_and_non_default_options_only():
    assert pivot.combo_label("spin", None, {"blocks": 1, "threads": 32, "timeout_s": 5.0}) == "spin"
    assert pivot.combo_label("spin", None, {"blocks": 4, "flag": "device"}) == "spin blocks=4 flag=device"
    assert pivot.combo_label("nccl-shaped", None, {"preset": "tiny"}) == "nccl-shaped tiny"
    assert pivot.combo_label("my-waiter", None, {"a": 1, "b": 2}, varying={"b"}) == "my-waiter b=2"


def test_sweep_rows_cover_the_grid_in_order(suite):
    rows = tables.sweep_rows(suite)
    assert len(rows) == len(syn.SWEEP_BLOCKS) * len(syn.SWEEP_THREADS)
    assert [(r.threads, r.blocks) for r in rows[:2]] == [(32, 1), (32, 2)]
    assert rows[-1].tput["fma"].stalled and not rows[-1].tput["stream"].stalled


@pytest.mark.parametrize("value,text", [(None, "n/a"), (0.0, "0"), (0.004, "0.004"), (0.43, "0.43"),
                                        (7.25, "7.2"), (99.94, "99.9"), (100.0, "100"), (12345.0, "12k")])
def test_fmt_num(value, text):
    assert tables.fmt_num(value) == text


def test_markdown_has_every_row_and_long_headers_with_units(suite):
    t = tables.build_tables(suite)[0]
    md = render.to_markdown(t)
    table_lines = [line for line in md.splitlines() if line.startswith("|")]
    assert len(table_lines) == 2 + len(t.cells)
    assert "reported util %" in table_lines[0] and "wake p50/p99 µs" in table_lines[0]
    assert syn.SYNTHETIC_GPU in md and syn.SYNTHETIC_DRIVER in md


def test_csv_and_json_carry_raw_numbers_for_every_table(suite):
    ts = tables.build_tables(suite)
    assert [t.kind for t in ts] == ["strategies", "sweep"]
    rows = list(csv.DictReader(io.StringIO(render.to_csv(ts))))
    assert len(rows) == sum(len(t.raw) for t in ts)
    spin = next(r for r in rows if r["table"] == "strategies" and r["label"] == "spin")
    assert float(spin["nvml_util_pct"]) == 100.0 and spin["gemm_status"] == "ok"
    doc = json.loads(render.to_json(ts))
    big = next(r for r in doc["tables"][0]["rows"] if r["label"] == "spin blocks=132 threads=1024")
    assert big["gemm_status"] == "stalled" and big["gemm_tput_ratio"] is None
    assert doc["tables"][0]["run"]["gpu_name"] == syn.SYNTHETIC_GPU


def test_rich_table_fits_120_columns_with_every_column(suite):
    t = tables.build_tables(suite)[0]
    text = _rich_text(t, 120)
    assert max(len(line) for line in text.splitlines()) <= 120
    for header in ("util", "occ", "gemm", "stream", "wake µs", "rtt µs", "ΔP", "CPU", "verdict", "busy-waiting"):
        assert header in text
    assert "…" not in text and "Not shown" not in text


def test_narrow_terminal_drops_named_columns_instead_of_truncating(suite):
    t = tables.build_tables(suite)[0]
    text = _rich_text(t, 80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "Not shown at this width: wake p50/p99 µs" in text.replace("\n", " ")
    assert "stream-wait-value" in text and "stalled" in text


def test_unknown_format_is_a_value_error(suite):
    with pytest.raises(ValueError, match="format='xml' is invalid"):
        render.render_text(tables.build_tables(suite), "xml")


@pytest.mark.parametrize("path", reference_params())
def test_every_format_renders_from_the_reference_results(path):
    records = load_records(path)
    ts = tables.build_tables(records)
    assert ts, f"{path.name}: no table from {len(records)} records"
    for fmt in ("markdown", "csv", "json"):
        assert render.render_text(ts, fmt).strip()
    for t in ts:
        assert len(t.cells) == len(t.raw) > 0
        text = _rich_text(t, 120)
        assert max(len(line) for line in text.splitlines()) <= 120
