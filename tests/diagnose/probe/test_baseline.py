# SPDX-License-Identifier: Apache-2.0
"""The probe's baseline cache and which GPUs get probed how. Probe results here are SYNTHETIC (a
FakeProbeRunner returns made-up TFLOP/s); the GPU rows are REAL H100 windows (tests/helpers/composed_windows.py).
"""

from __future__ import annotations

import json
import os
import threading
import warnings

import pytest

from helpers.composed_windows import composed_host
from waitbench.diagnose import verdict_rows
from waitbench.diagnose.probe import baseline as bl
from waitbench.diagnose.probe.measure import BASELINE_RUNS, PROBE_RUNS, ProbeRun
from waitbench.diagnose.probe.run import probe_rows, run_child
from waitbench.errors import CacheWarning

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
    with pytest.warns(CacheWarning, match=r"probe-GPU-cccc-.*\.json: not a probe baseline \(.*\): measuring it again"):
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


CORRUPT = [  # (what the file holds, what the warning says)
    ('"power_warm_idle_w": -40.0', "power_warm_idle_w=-40.0 is outside the plausible idle power of a GPU [1, 1000] W"),
    ('"power_warm_idle_w": 1e6', "power_warm_idle_w=1000000.0 is outside the plausible idle power"),
    ('"power_warm_idle_w": "120"', "power_warm_idle_w='120' is outside"),
    ('"power_warm_idle_w": NaN', "holds NaN, which is no JSON number"),
    ('"power_warm_idle_w": 1e999', "beyond a float's range"),
    ('"tflops": 0', "tflops=0 is outside the plausible range (0, 10000]"),
    ('"tflops": [50]', "tflops=[50] is outside"),
    ('"runs_tflops": [50, -1]', "runs_tflops=[50, -1] is not a list of throughputs"),
    ('"launches": true', "launches=True is not a count"),
    ('"uuid": null', "uuid=None is not a string"),
    ('"format_version": 2', "format_version=2, not 1"),
]


@pytest.mark.parametrize("edit, needle", CORRUPT, ids=[e for e, _ in CORRUPT])
def test_a_corrupt_or_implausible_cache_is_measured_again_with_one_warning_naming_it(edit, needle):
    # REAL windows (COMPOSED: GPU 0 idle); SYNTHETIC probe numbers; the cache then edited by hand.
    rows = verdict_rows(composed_host("idle", "spin-1warp"))
    idle = rows[0].uuid
    path = bl.cache_path(idle, DRIVER)
    bl.save(synthetic_run(idle), rows[0].name, DRIVER)
    key, raw = (part.strip() for part in edit.split(":", 1))
    data = json.loads(path.read_text())
    data[json.loads(key)] = "@@"
    path.write_text(json.dumps(data, indent=1).replace('"@@"', raw) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # each warning the code gives is recorded: "once" is the code's
        fake = FakeProbeRunner({rows[0].uuid: 50.0, rows[1].uuid: 49.0})
        readings = probe_rows(rows, DRIVER, runner=fake)
        assert bl.load(idle, DRIVER) is not None  # measured again and kept: the corrupt file is replaced
    assert (idle, BASELINE_RUNS) in fake.calls and readings[idle].baseline["source"] == "measured now"
    (w,) = caught  # read twice before it was replaced: said once
    assert w.category is CacheWarning
    assert str(w.message).startswith(f"{path}: not a ") and needle in str(w.message), str(w.message)


def test_an_implausible_figure_is_never_cached():
    with pytest.warns(CacheWarning, match=r"this probe baseline is not kept \(power_warm_idle_w=5000.0 is outside"):
        base = bl.save(synthetic_run("GPU-dddd", power=5000.0), "SYNTHETIC GPU", DRIVER)
    assert base.path is None and bl.load("GPU-dddd", DRIVER) is None
    assert base.power_warm_idle_w is None and base.tflops == 50.0  # the verdict gets no power baseline from it


def test_probes_saving_at_once_never_meet_in_one_temporary_file(cache):
    """Each save writes a temporary file of its own (a fixed name made one probe rename the other's away)."""
    errors = []

    def saves(i: int) -> None:
        try:
            for _ in range(30):
                bl.save(synthetic_run("GPU-eeee", tflops=40.0 + i), "SYNTHETIC GPU", DRIVER)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=saves, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and not any(t.is_alive() for t in threads)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert 40.0 <= bl.load("GPU-eeee", DRIVER).tflops < 48.0
    assert [p.name for p in cache.iterdir()] == [f"probe-GPU-eeee-{DRIVER}.json"]  # no temporary file left


@pytest.mark.parametrize("how", ["a file where the folder should be", "a read-only folder"])
def test_an_unwritable_cache_is_said_once_and_the_probe_goes_on(cache, how):
    if how == "a file where the folder should be":
        cache.write_text("not a folder")
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into a read-only folder")
        cache.mkdir()
        cache.chmod(0o500)
    rows = verdict_rows(composed_host("idle", "spin-1warp"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # each warning the code gives is recorded: "once" is the code's
        for _ in range(3):  # a watch loop: every refresh finds no cache and measures again
            readings = probe_rows(rows, DRIVER, runner=FakeProbeRunner({rows[0].uuid: 50.0, rows[1].uuid: 49.0}))
            assert readings[rows[0].uuid].state == "free" and readings[rows[0].uuid].baseline["path"] is None
    (w,) = caught
    assert w.category is CacheWarning
    assert str(w.message).startswith(f"{cache}: cannot keep probe baselines here (")
    assert "going on without a cache" in str(w.message)
