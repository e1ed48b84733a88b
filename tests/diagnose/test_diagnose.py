# SPDX-License-Identifier: Apache-2.0
"""diagnose's pure steps: GPU list parsing, verdict rows from windows, their rendering, replays.
The first windows here are SYNTHETIC (made-up numbers on either side of the thresholds), not measurements;
the later ones are REAL H100 windows, alone or COMPOSED into a four-GPU host (tests/helpers/composed_windows.py).
"""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from helpers.composed_windows import COMPOSED_4GPU, H100, RECORDER_PID, composed_host, real_window
from waitbench.diagnose import (
    HINTS,
    judge,
    parse_gpus,
    render_notes,
    render_table,
    replay_refreshes,
    rows_to_json,
    verdict_rows,
    without_gpm,
)
from waitbench.diagnose.probe.judge import ProbeReading
from waitbench.diagnose.render import refresh_lines
from waitbench.telemetry.gpm import GPM_FIELDS
from waitbench.telemetry.recording import RecordingWriter, read_windows
from waitbench.telemetry.summary import WindowSummary

SYNTHETIC_GPU = "SYNTHETIC GPU (test fixture, not a measurement)"


def synthetic(uuid: str, nvml_index: int, util: float, pids: list[int], **gpm: float) -> WindowSummary:
    fields = dict.fromkeys(GPM_FIELDS, 0.0) | gpm
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
    assert notes[1].startswith("  confidence: high, from nvml utilization, gpm pipes")
    assert notes[2] == "  hint: " + HINTS["busy-waiting"]


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


# --- REAL windows (one H100) and the COMPOSED four-GPU recording made of them (tests/helpers/composed_windows.py) ---


def test_replay_of_the_composed_recording_finds_the_late_rank():
    refreshes = replay_refreshes(COMPOSED_4GPU)
    assert [ref.index for ref in refreshes] == [0, 1, 2]
    assert [r.verdict for r in refreshes[0].rows] == ["busy"] * 4 and refreshes[0].late is None
    assert [r.verdict for r in refreshes[1].rows] == ["busy-waiting", "busy", "busy-waiting", "busy-waiting"]
    assert refreshes[1].late.late == ["1"] and "busy: tensor pipe" in refreshes[1].late.message
    last = refreshes[2]
    assert [r.label for r in last.rows] == ["nccl-simple-16ch", "host-block", "spin-1warp", "spin-every-sm"]
    assert [r.likely_late for r in last.rows] == [False, True, False, False]
    assert all(r.late_rank == last.late.message and r.refresh == 2 for r in last.rows)
    assert last.rows[0].holder == {"pid": RECORDER_PID, "how": "the only compute process on this GPU"}


def test_replay_of_the_scenario_recording_uses_its_idle_window_as_power_baseline():
    (ref,) = replay_refreshes(H100)
    expected = [meta["expected_verdict"] for _, meta in read_windows(H100)]
    assert [r.verdict for r in ref.rows] == expected
    spin = next(r for r in ref.rows if r.label == "spin-1warp")
    idle = real_window("idle")
    assert spin.power_idle_w == idle.power_w and spin.power_delta_w == spin.power_w - idle.power_w
    assert ref.late is None  # one GPU at several times is not a host


def test_ignore_gpm_judges_as_a_gpu_without_gpm_and_leaves_the_window_alone():
    s = real_window("spin-1warp")
    blind = without_gpm(s)
    assert s.gpm_sm_util_pct is not None and blind.gpm_sm_util_pct is None
    assert "--ignore-gpm" in blind.null_reasons["gpm_tensor_util_pct"] and "gpm_tensor_util_pct" not in s.null_reasons
    rows = replay_refreshes(COMPOSED_4GPU, ignore_gpm=True)[2].rows
    # no warm-idle baseline in the composed recording: the resident kernels are low-confidence guesses
    assert [(r.verdict, r.confidence) for r in rows] == [
        ("busy-waiting", "low"), ("idle", "high"), ("busy-waiting", "low"), ("busy-waiting", "low")]


def test_record_and_replay_keep_refreshes_and_probe_readings(tmp_path):
    # REAL windows; the probe reading is SYNTHETIC (no probe has been recorded on a device yet).
    windows = composed_host("spin-1warp", "host-block")
    reading = ProbeReading("free", 0.97, "probe ran at 97% of its idle speed (SYNTHETIC)", {}, None)
    path = tmp_path / "session.jsonl"
    with RecordingWriter(path) as w:
        for n in range(2):
            for s in windows:
                extra = {"probe": reading.to_dict()} if s.uuid == windows[0].uuid else {}
                w.window(s, label="diagnose", refresh=n, **extra)
    refreshes = replay_refreshes(path, ignore_gpm=True)
    assert len(refreshes) == 2
    first = refreshes[1].rows[0]
    assert first.verdict == "busy-waiting" and first.probe["ratio"] == 0.97 and first.refresh == 1
    assert refreshes[1].late.late == ["1"]


def test_notes_name_processes_and_holder_of_waiting_gpus_only():
    ref = judge(composed_host("nccl-simple-16ch", "gemm"))
    lines = refresh_lines(ref)
    assert f"  process: pid {RECORDER_PID} python3 (518 MiB)" in lines[3]
    assert lines[4] == f"  holder: pid {RECORDER_PID}: the only compute process on this GPU"
    assert not any(line.startswith("  process") for line in lines[5:])
    assert lines[-1].startswith("late rank: GPU 0 waits; GPU 1 does not (busy")
    data = json.loads(json.dumps(rows_to_json(ref.rows), default=str))
    assert data[1]["likely_late"] is True and data[0]["holder"]["pid"] == RECORDER_PID
    assert {"probe", "disagreement", "late_rank", "refresh", "label", "confidence", "signals"} <= set(data[0])


def test_inside_observer_rows_have_no_holder():
    (row,) = verdict_rows([real_window("spin-1warp")], observer="inside")
    assert row.holder is None and not any("holder" in line for line in render_notes([row]))
