# SPDX-License-Identifier: Apache-2.0
"""The probe on a real GPU: bounded in time and memory, in this process and in a child."""

from __future__ import annotations

import pytest

from waitbench.diagnose.probe.measure import PROBE_ALLOC_MAX_BYTES, PROBE_BUDGET_S, ProbeRun, measure
from waitbench.diagnose.probe.run import PACKAGE_PARENT, run_child


def gpu0_uuid() -> str:
    from waitbench._native import native

    return str(native().device_info(0)["uuid"])


def test_round_trip_of_a_run():
    r = ProbeRun("GPU-x", "stalled", reason="why")
    assert ProbeRun.from_dict({**r.to_dict(), "extra": 1}) == r


def test_the_child_entry_answers_in_one_line_from_anywhere(tmp_path, monkeypatch):
    """The command run_child builds (module and PYTHONPATH) starts the child from any folder: it answers
    one JSON line, here an error run (no such GPU, or no GPU at all), never a failed start.
    """
    assert (PACKAGE_PARENT / "waitbench" / "__init__.py").is_file()
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.chdir(tmp_path)
    r = run_child("GPU-00000000-0000-0000-0000-000000000000", 1)
    assert r.status == "error" and r.uuid.startswith("GPU-0000")
    assert "exited with code" not in (r.reason or ""), r.reason  # the child ran and printed its line


@pytest.mark.gpu
def test_probe_on_an_idle_gpu_is_bounded():
    r = measure(gpu0_uuid())
    assert r.status == "ok", r.reason
    assert r.tflops and r.tflops > 0 and r.runs_tflops
    assert r.gpu_time_s < PROBE_BUDGET_S + 0.1  # one run may end just past the budget check
    assert r.alloc_bytes is not None and 0 < r.alloc_bytes < PROBE_ALLOC_MAX_BYTES


@pytest.mark.gpu
def test_probe_in_a_child_process():
    r = run_child(gpu0_uuid(), 3)
    assert r.status == "ok", r.reason
    assert r.cuda_index is not None and len(r.runs_tflops) >= 1
