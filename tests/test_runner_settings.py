# SPDX-License-Identifier: Apache-2.0
"""Without a GPU: the suite's telemetry windows satisfy the instrument's own rule, workload points
open none, and the FMA ceiling comes from the clock the kernel held (fakes stand in for the GPU
parts; they feed pure record logic, not measurements).
"""

from __future__ import annotations

from typing import Any

import pytest

from waitbench import runner
from waitbench.runner import Session, Settings
from waitbench.telemetry.instrument import Periods, check_window
from waitbench.throughput import PairResult
from waitbench.workloads import FmaWorkload

# The update periods docs/METRICS.md gives (utilization 200 ms, energy ~100 ms, GPM >= 100 ms).
DOCUMENTED = Periods(util_period_s=0.2, energy_period_s=0.1, gpm_interval_s=0.1)


@pytest.mark.parametrize("settings", [Settings.quick(), Settings()], ids=["quick", "thorough"])
def test_suite_windows_satisfy_the_instrument_rule(settings: Settings) -> None:
    assert check_window(settings.window_s, DOCUMENTED) is None
    slower = Periods(util_period_s=0.22, energy_period_s=0.1, gpm_interval_s=0.1)  # a period measured 10% long
    assert check_window(settings.window_s, slower) is None


def test_the_rule_refuses_a_window_as_long_as_a_pair_series() -> None:
    pairs = Settings.quick().pairs
    assert check_window(pairs.min_s + 0.05, DOCUMENTED) is not None  # the 0.35 s windows that warned


class FakeTelemetry:
    """Records the windows asked for; never opened by a workload point."""

    def __init__(self) -> None:
        self.windows: list[float] = []
        self.reason = "fake"

    def window(self, seconds: float) -> None:
        self.windows.append(seconds)


class FakeWaiter:
    def __init__(self, *_a: Any, **_k: Any) -> None:
        self.shape: dict[str, Any] = {}

    def close(self) -> None:
        pass

    def __enter__(self) -> FakeWaiter:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass


class FakeWake:
    """What wake_latency returns, without trials."""

    expired = aborted = 0
    host_cpu_pct = None

    @staticmethod
    def record_fields() -> dict[str, Any]:
        return {}


class FakeFma:
    """A TimedWorkload of the real FMA workload's ceiling logic, without its kernel (no launch shape read)."""

    class _Fma(FmaWorkload):
        def victim_shape(self) -> None:
            return None

    workload = _Fma()


def _session() -> Session:
    s = Session.__new__(Session)
    s.gpu, s.settings, s.writer, s.records = 0, Settings.quick(), None, []
    s.progress = lambda _m: None
    s.telemetry = FakeTelemetry()
    s.identity = dict(run_id="synthetic", argv=["synthetic"], hostname="synthetic", gpu_index=0,
                      gpu_name="SYNTHETIC GPU (test fixture)", gpu_uuid="GPU-synthetic", gpu_sm_count=132, gpu_cc="9.0")
    return s


def test_a_workload_point_opens_no_window_and_takes_the_fma_ceiling_from_the_held_clock(monkeypatch) -> None:
    pr = PairResult(solo=[60.0, 62.0, 61.0], solo_clock_mhz=[1900.0, 1980.0, 1960.0], concurrent=[61.0] * 3,
                    ratios=[1.0] * 3)
    monkeypatch.setattr(runner, "Waiter", FakeWaiter)
    monkeypatch.setattr(runner, "measure_pairs", lambda tw, waiter, policy: pr)
    s = _session()
    rec = s.workload_record(FakeFma(), {"strategy": "spin", "options": {}}, {})
    assert s.telemetry.windows == []
    assert rec["tput_ceiling"] == pytest.approx(132 * 128 * 2 * 1960e6 / 1e12)
    assert rec["tput_peak_fraction"] == pytest.approx(61.0 / rec["tput_ceiling"])
    assert rec["extra"]["tput_ceiling_clock_mhz"] == 1960.0
    assert "clock64" in rec["extra"]["tput_ceiling_clock_source"]


def test_no_held_clock_means_no_fma_ceiling_with_the_reason(monkeypatch) -> None:
    pr = PairResult(solo=[60.0], concurrent=[60.0], ratios=[1.0])
    monkeypatch.setattr(runner, "Waiter", FakeWaiter)
    monkeypatch.setattr(runner, "measure_pairs", lambda tw, waiter, policy: pr)
    rec = _session().workload_record(FakeFma(), {"strategy": "spin", "options": {}}, {})
    assert rec["tput_ceiling"] is None and "measured no SM clock" in rec["null_reasons"]["tput_ceiling"]


def test_a_session_announces_as_many_steps_as_it_counts(monkeypatch) -> None:
    """The progress bar's total comes from Session.steps: each strategy and sweep point announces that many."""
    from waitbench.sweep import run_sweep

    pr = PairResult(solo=[60.0], concurrent=[60.0], ratios=[1.0])
    monkeypatch.setattr(runner, "Waiter", FakeWaiter)
    monkeypatch.setattr(runner, "measure_pairs", lambda tw, waiter, policy: pr)
    monkeypatch.setattr(runner, "wake_latency", lambda *a, **k: FakeWake())
    s = _session()
    steps: list[str] = []
    s.progress, s.workloads = steps.append, [FakeFma(), FakeFma()]
    s.measure("host-block")
    s.measure("spin", blocks=2)
    run_sweep(s, blocks=[1, 2], threads=[32], flags=["host", "device"])
    assert Session.SETUP_STEPS + len(steps) == Session.steps(2, strategies=2, sweep_points=4)
