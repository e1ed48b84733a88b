# SPDX-License-Identifier: Apache-2.0
"""The probe's baseline cache and which GPUs get probed how. Probe results here are SYNTHETIC (a
FakeProbeRunner returns made-up TFLOP/s); the GPU rows are REAL H100 windows (tests/helpers/composed_windows.py).
"""

from __future__ import annotations

import json

import pytest

from helpers.composed_windows import composed_host
from waitbench.diagnose import verdict_rows
from waitbench.diagnose.probe import baseline as bl
from waitbench.diagnose.probe.measure import BASELINE_RUNS, PROBE_RUNS, ProbeRun
from waitbench.diagnose.probe.run import probe_rows, run_child

DRIVER = "580.159.04"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "waitbench"


SYNTHETIC_WARM_IDLE_W = 120.0


def synthetic_run(uuid: str, tflops: float = 50.0, power: float | None = SYNTHETIC_WARM_IDLE_W) -> ProbeRun:
    return ProbeRun(uuid, "ok", tflops=tflops, runs_tflops=[tflops], launches=40, power_warm_idle_w=power)


def test_save_load_and_key(cache):
    base = bl.save(synthetic_run("GPU-aaaa"), "SYNTHETIC GPU", DRIVER)
    assert base.source == "measured now" and base.path == str(cache / f"probe-GPU-aaaa-{DRIVER}.json")
    assert bl.cache_path("GPU-aaaa", DRIVER) == cache / f"probe-GPU-aaaa-{DRIVER}.json"
    loaded = bl.load("GPU-aaaa", DRIVER)
    assert loaded is not None and loaded.tflops == 50.0 and loaded.source == "cache" and loaded.launches == 40
    assert bl.load("GPU-aaaa", "999.0") is None  # another driver: measure again
    assert json.loads((cache / f"probe-GPU-aaaa-{DRIVER}.json").read_text())["format_version"] == bl.FORMAT_VERSION


def test_borrow_same_model_and_driver_only():
    bl.save(synthetic_run("GPU-aaaa"), "SYNTHETIC GPU", DRIVER)
    got = bl.borrow("SYNTHETIC GPU", DRIVER, "GPU-bbbb")
    assert got is not None and got.uuid == "GPU-aaaa" and got.source.startswith("borrowed from GPU-aaaa")
    assert bl.borrow("OTHER GPU", DRIVER, "GPU-bbbb") is None
    assert bl.borrow("SYNTHETIC GPU", DRIVER, "GPU-aaaa") is None  # not from itself


def test_corrupt_file_and_bad_runs(cache):
    cache.mkdir(parents=True)
    bl.cache_path("GPU-cccc", DRIVER).write_text("{not json")
    assert bl.load("GPU-cccc", DRIVER) is None
    with pytest.raises(ValueError, match="stalled"):
        bl.save(ProbeRun("GPU-cccc", "stalled"), "x", DRIVER)


class FakeProbeRunner:
    """FAKE probe runner: records what was asked and returns SYNTHETIC runs (no GPU, no child process)."""

    def __init__(self, tflops: dict[str, float]) -> None:
        self.tflops, self.calls = tflops, []

    def __call__(self, uuid: str, runs: int) -> ProbeRun:
        self.calls.append((uuid, runs))
        return synthetic_run(uuid, self.tflops[uuid], SYNTHETIC_WARM_IDLE_W if runs == BASELINE_RUNS else None)


def test_idle_gpu_gives_the_baseline_a_busy_gpu_of_the_same_model_borrows():
    # REAL windows (COMPOSED as GPU 0 idle, GPU 1 waiting); SYNTHETIC probe numbers.
    rows = verdict_rows(composed_host("idle", "spin-1warp"))
    idle, waiting = rows[0].uuid, rows[1].uuid
    fake = FakeProbeRunner({idle: 50.0, waiting: 49.0})
    readings = probe_rows(rows, DRIVER, runner=fake)
    assert fake.calls == [(idle, BASELINE_RUNS), (waiting, PROBE_RUNS)]
    assert readings[idle].state == "free" and readings[idle].baseline["source"] == "measured now"
    assert readings[waiting].state == "free" and readings[waiting].ratio == pytest.approx(0.98)
    assert readings[waiting].baseline["source"].startswith(f"borrowed from {idle}")
    # A second diagnose uses the cache: no baseline is measured again.
    fake.calls.clear()
    probe_rows(rows, DRIVER, runner=fake)
    assert fake.calls == [(idle, PROBE_RUNS), (waiting, PROBE_RUNS)]
    # ... unless the cached one predates the warm-idle power (then the idle GPU is measured again).
    bl.save(synthetic_run(idle, 50.0, power=None), "x", DRIVER)
    fake.calls.clear()
    probe_rows(rows, DRIVER, runner=fake)
    assert fake.calls[0] == (idle, BASELINE_RUNS) and bl.load(idle, DRIVER).power_warm_idle_w == SYNTHETIC_WARM_IDLE_W


def test_warm_idle_baselines_become_idle_windows_for_the_verdict():
    # REAL windows without GPM; SYNTHETIC baseline power: the no-GPM verdict gains its power reference.
    from waitbench.diagnose import warm_idle_windows

    rows = verdict_rows(composed_host("idle", "spin-1warp"))
    probe_rows(rows, DRIVER, runner=FakeProbeRunner({rows[0].uuid: 50.0, rows[1].uuid: 49.0}))
    summaries = [r.summary for r in rows]
    idle = warm_idle_windows(summaries, DRIVER)
    assert {u: w.power_w for u, w in idle.items()} == {r.uuid: SYNTHETIC_WARM_IDLE_W for r in rows}
    (waiting,) = verdict_rows([summaries[1]], idle, ignore_gpm=True)
    assert (waiting.verdict, waiting.confidence) == ("busy-waiting", "medium")
    assert "warm-idle baseline" in waiting.reason


def test_refresh_remeasures_idle_gpus_and_says_why_busy_ones_were_not():
    rows = verdict_rows(composed_host("idle", "gemm"))
    idle, busy = rows[0].uuid, rows[1].uuid
    fake = FakeProbeRunner({idle: 50.0, busy: 20.0})
    probe_rows(rows, DRIVER, runner=fake)
    fake.tflops[idle] = 55.0
    readings = probe_rows(rows, DRIVER, runner=fake, refresh=True)
    assert bl.load(idle, DRIVER).tflops == 55.0
    assert readings[busy].state == "contended"
    assert "baseline not re-measured: this GPU is not idle (busy)" in readings[busy].text


def test_no_baseline_anywhere():
    rows = verdict_rows(composed_host("spin-1warp"))
    readings = probe_rows(rows, DRIVER, runner=FakeProbeRunner({rows[0].uuid: 30.0}))
    assert readings[rows[0].uuid].state == "no-baseline"


def test_child_probe_of_an_absent_gpu_fails_with_a_reason():
    got = run_child("GPU-00000000-0000-0000-0000-00000000dead", 1)
    assert got.status == "error" and got.reason
