# SPDX-License-Identifier: Apache-2.0
"""diagnose's pure steps: GPU list parsing, verdict rows from windows, and their rendering.
The windows here are SYNTHETIC (made-up numbers on either side of the thresholds), not measurements."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from waitbench.diagnose import HINTS, parse_gpus, render_notes, render_table, rows_to_json, verdict_rows
from waitbench.telemetry.gpm import GPM_FIELDS
from waitbench.telemetry.summary import WindowSummary

SYNTHETIC_GPU = "SYNTHETIC GPU (test fixture, not a measurement)"


def synthetic(uuid: str, nvml_index: int, util: float, pids: list[int], **gpm: float) -> WindowSummary:
    fields = {f: 0.0 for f in GPM_FIELDS} | gpm
    return WindowSummary(uuid=uuid, index=None, nvml_index=nvml_index, name=SYNTHETIC_GPU, window_s=3.0,
                         nvml_util_pct=util, nvml_mem_util_pct=0.0, power_w=80.0, power_limit_w=700.0,
                         processes=[{"pid": p, "name": "python"} for p in pids], **fields)


WAITING = synthetic("GPU-a", 0, 100.0, [101], gpm_sm_util_pct=0.8)
WORKING = synthetic("GPU-b", 1, 100.0, [102], gpm_tensor_util_pct=60.0)
SHARED = synthetic("GPU-c", 2, 100.0, [103, 104], gpm_tensor_util_pct=60.0)
EMPTY = synthetic("GPU-d", 3, 0.0, [])


def test_rows_from_an_outside_observer():
    rows = verdict_rows([WAITING, WORKING, SHARED, EMPTY])
    assert [r.verdict for r in rows] == ["busy-waiting", "busy", "shared", "idle"]
    assert [r.gpu for r in rows] == ["nvml:0", "nvml:1", "nvml:2", "nvml:3"]
    assert rows[0].hint == HINTS["busy-waiting"] and rows[1].hint is None
    assert rows[1].busiest_pipe == ("gpm_tensor_util_pct", 60.0)
    assert rows[0].power_delta_w is None  # no idle baseline given


def test_rows_with_a_baseline_carry_power_over_idle():
    idle = synthetic("GPU-a", 0, 0.0, [])
    idle.power_w = 70.0
    (row,) = verdict_rows([WAITING], {"GPU-a": idle})
    assert row.power_idle_w == 70.0 and row.power_delta_w == pytest.approx(10.0)


def test_json_and_rendering():
    rows = verdict_rows([WAITING, WORKING])
    data = json.loads(json.dumps(rows_to_json(rows)))
    assert data[0]["verdict"] == "busy-waiting" and "summary" not in data[0]
    buf = io.StringIO()
    Console(file=buf, width=160, no_color=True).print(render_table(rows, title="t"))
    assert "busy-waiting" in buf.getvalue() and "tensor 60.0%" in buf.getvalue()
    notes = render_notes(rows)
    assert notes[0].startswith("GPU nvml:0: busy-waiting: a resident kernel is waiting")
    assert notes[1] == "  hint: " + HINTS["busy-waiting"]


@pytest.mark.parametrize("text, specs", [
    (None, None), ("all", None), ("0", ["nvml:0"]), ("0, 2", ["nvml:0", "nvml:2"]),
    ("GPU-12345678-abcd-ef01-2345-6789abcdef01", ["GPU-12345678-abcd-ef01-2345-6789abcdef01"]),
    ("0000:3b:00.0,1", ["0000:3b:00.0", "nvml:1"]), ("nvml:3", ["nvml:3"]),
])
def test_parse_gpus(text, specs):
    assert parse_gpus(text) == specs


@pytest.mark.parametrize("text", ["x", "0,,1", "-1", "nvml:x", "GPU"])
def test_parse_gpus_rejects(text):
    with pytest.raises(ValueError, match="--gpus"):
        parse_gpus(text)
