# SPDX-License-Identifier: Apache-2.0
"""The nccl tables are TableData: the committed H200 records render in every format report has."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from waitbench.nccl.tables import calls_table, emulation_table, episode_table
from waitbench.report.render import FORMATS, render_text, to_rich
from waitbench.results import load_records

FOLDER = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "h200-x2"


@pytest.fixture(scope="module")
def tables():
    records = load_records(FOLDER / "nccl-modes.jsonl") + load_records(FOLDER / "nccl-calls.jsonl")
    out = [t for t in (make(records) for make in (episode_table, calls_table, emulation_table)) if t is not None]
    assert [t.kind for t in out][:2] == ["nccl-episodes", "nccl-calls"]
    return out


def test_every_format_renders_the_same_rows(tables):
    assert set(FORMATS) == {"table", "markdown", "csv", "json"}
    md = render_text(tables, "markdown")
    assert md.count("| mode | cell | rank |") == 1 and "| cudaFree | 1 | ok |" in md
    rows = list(csv.DictReader(io.StringIO(render_text(tables, "csv"))))
    assert any(r.get("side_call") == "cudaFree" for r in rows)
    data = json.loads(render_text(tables, "json"))
    kinds = [t["kind"] for t in data["tables"]]
    assert kinds[:2] == ["nccl-episodes", "nccl-calls"]
    episodes = data["tables"][0]["rows"]
    assert len(episodes) == len(tables[0].cells) and all("verdict" in r and "nvml_util_pct" in r for r in episodes)
    assert to_rich(tables[0], width=132) is not None


def test_no_records_of_a_kind_no_table():
    assert episode_table([]) is None and calls_table([]) is None and emulation_table([]) is None
