# SPDX-License-Identifier: Apache-2.0
"""Reading a probe beside the counters. Windows are REAL (one H100, tests/helpers/composed_windows.py); the probe
runs and baselines are SYNTHETIC (made-up TFLOP/s on either side of PROBE_FREE_RATIO): no probe has been
recorded on a device yet.
"""

from __future__ import annotations

import pytest

from helpers.composed_windows import real_window
from waitbench.diagnose import judge, verdict_rows
from waitbench.diagnose.probe.baseline import Baseline
from waitbench.diagnose.probe.judge import PROBE_FREE_RATIO, READINGS, ProbeReading, apply_probe, interpret
from waitbench.diagnose.probe.measure import ProbeRun

UUID = "GPU-5051221a-12da-e73c-23f6-fc0066ce3de0"
BASE = Baseline(uuid=UUID, name="SYNTHETIC baseline", driver_version="0.0", tflops=50.0, measured_utc="2026-01-01")


def run(tflops: float | None = None, status: str = "ok", reason: str | None = None) -> ProbeRun:
    """A SYNTHETIC probe run."""
    return ProbeRun(UUID, status, tflops=tflops, runs_tflops=[tflops] if tflops else [], reason=reason)


FREE = interpret(run(BASE.tflops * 0.97), BASE)
CONTENDED = interpret(run(BASE.tflops * 0.5), BASE)
BLOCKED = interpret(run(status="stalled", reason="one launch of the probe did not finish within 0.90 s"), BASE)


def test_readings():
    assert FREE.state == "free" and FREE.ratio == pytest.approx(0.97)
    assert "97% of its idle speed (48.5 of 50.0 TFLOP/s" in FREE.text
    assert CONTENDED.state == "contended" and "time-slicing" in CONTENDED.text
    assert interpret(run(BASE.tflops * PROBE_FREE_RATIO), BASE).state == "free"
    assert BLOCKED.state == "blocked" and BLOCKED.ratio is None and "could not start" in BLOCKED.text
    none = interpret(run(40.0), None)
    assert none.state == "no-baseline" and "while this GPU is idle" in none.text
    failed = interpret(run(status="error", reason="no CUDA"), BASE, "a note")
    assert failed.state == "failed" and failed.text == "probe could not run: no CUDA; a note"
    assert ProbeReading.from_dict(FREE.to_dict()) == FREE
    assert {r.state for r in (FREE, CONTENDED, BLOCKED, none, failed)} == set(READINGS)


def row(scenario: str, *, ignore_gpm: bool):
    (r,) = verdict_rows([real_window(scenario)], ignore_gpm=ignore_gpm)
    return r


def test_free_probe_makes_a_guess_without_gpm_sure():
    r = row("spin-1warp", ignore_gpm=True)
    assert (r.verdict, r.confidence) == ("busy-waiting", "low")  # no warm-idle baseline: a guess
    apply_probe(r, FREE)
    assert (r.verdict, r.confidence) == ("busy-waiting", "high") and "probe" in r.signals
    assert r.reason.startswith("a resident kernel is waiting: reported 96% while a probe ran at 97%")
    assert r.probe["state"] == "free" and r.disagreement is None


@pytest.mark.parametrize("reading, needle", [(CONTENDED, "time-slicing"), (BLOCKED, "cannot say")])
def test_other_probes_leave_the_guess_with_the_reading(reading, needle):
    r = row("nccl-simple-16ch", ignore_gpm=True)
    apply_probe(r, reading)
    assert (r.verdict, r.confidence) == ("busy-waiting", "low") and needle in r.reason


def test_a_probe_cannot_decide_where_the_counters_read_nothing():
    s = real_window("nccl-simple-16ch")
    s.null("power_w", "SYNTHETIC: no energy counter")
    (r,) = verdict_rows([s], ignore_gpm=True)
    assert r.verdict == "unknown"
    apply_probe(r, FREE)
    assert (r.verdict, r.confidence) == ("busy-waiting", "high")


def test_probe_never_overrules_work_evidence_but_reports_disagreement():
    r = row("gemm", ignore_gpm=True)  # without GPM still busy: memory utilization and power
    assert r.verdict == "busy"
    apply_probe(r, FREE)
    assert r.verdict == "busy" and "the work leaves the SMs free" in r.disagreement


def test_counters_and_probe_disagreeing_on_hopper():
    r = row("spin-1warp", ignore_gpm=False)
    apply_probe(r, CONTENDED)
    assert r.verdict == "busy-waiting" and "counters say waiting, but the probe got only 50%" in r.disagreement
    r = row("spin-every-sm", ignore_gpm=False)
    apply_probe(r, BLOCKED)
    assert r.verdict == "busy-waiting" and r.disagreement is None  # a waiter on every SM blocks the probe: consistent
    r = row("idle", ignore_gpm=False)
    apply_probe(r, FREE)
    assert r.verdict == "idle" and r.disagreement is None
    apply_probe(r, CONTENDED)
    assert "work started after the window" in r.disagreement


def test_judge_folds_probes_in_and_updates_the_hint():
    ref = judge([real_window("spin-1warp")], ignore_gpm=True, probes={UUID: FREE.to_dict()})
    (r,) = ref.rows
    assert r.verdict == "busy-waiting" and r.hint.startswith("a resident kernel is waiting")
