# SPDX-License-Identifier: Apache-2.0
"""A rank's probes degrade to None with a reason where an instrument is missing (here: no GPU, no NVML)."""

from __future__ import annotations

import time

import pytest
from waitbench.nccl.probes import Probe, classify, sleep_until


def test_gloo_probe_measures_host_cpu_only():
    probe = Probe(None)
    t_end = time.time_ns() + 50_000_000
    w = probe.window_until(t_end)
    assert time.time_ns() >= t_end
    assert w.summary is None and w.reason == "gloo backend: no GPU"
    assert 0.04 <= w.wall_s < 1.0 and w.host_cpu_pct >= 0
    t = probe.workload(0.1)
    assert t.value is None and t.reason == "gloo backend: no GPU"
    probe.close()


def test_window_counts_cpu_burnt_in_the_process():
    probe = Probe(None)
    t_end = time.time_ns() + 200_000_000
    import threading

    burnt: list[float] = []

    def spin() -> None:
        t = time.thread_time()
        while time.time_ns() < t_end:
            pass
        burnt.append(time.thread_time() - t)

    worker = threading.Thread(target=spin)
    worker.start()
    w = probe.window_until(t_end)
    worker.join()
    # another thread's CPU time counts (what it got, which a busy machine may cut below one core)
    assert burnt[0] > 0.02
    assert w.host_cpu_pct >= 0.8 * 100 * burnt[0] / w.wall_s


def test_gpu_probe_without_gpu_gives_reasons_not_exceptions():
    pytest.importorskip("torch", reason="the GPU probe names its device through torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the degradation path is not reachable")
    probe = Probe(0)
    assert probe.telemetry_reason and probe.telemetry_reason.startswith("telemetry unavailable:")
    t = probe.workload(0.05)
    assert t.value is None and t.reason  # no native core or no GPU: a reason either way
    w = probe.window_until(time.time_ns() + 10_000_000)
    assert w.summary is None and w.reason == probe.telemetry_reason
    probe.close()


def test_sleep_until_returns_at_once_for_the_past():
    t = time.perf_counter()
    sleep_until(time.time_ns() - 1_000_000_000)
    assert time.perf_counter() - t < 0.01


def test_classify_without_a_window():
    assert classify(None, None) == (None, "no telemetry window")


class FakeRunTimed:
    """Stands in for waitbench.workloads.run_timed to check how its answer is translated (no GPU here);
    it returns a stall, and remembers the arguments it was called with."""

    def __init__(self) -> None:
        self.kwargs: dict = {}

    def __call__(self, name, **kwargs):
        from waitbench.workloads import Throughput as WorkloadThroughput

        self.kwargs = {"name": name, **kwargs}
        return WorkloadThroughput(0.0, "TFLOP/s", kwargs["timeout_s"], True)


def test_a_stalled_run_becomes_none_with_the_stall_time(monkeypatch):
    from waitbench import workloads

    fake = FakeRunTimed()
    monkeypatch.setattr(workloads, "run_timed", fake)
    probe = Probe(0)  # telemetry may be unavailable here: only the workload's translation is checked
    t = probe.workload(0.5, timeout_s=0.6)
    assert fake.kwargs == {"name": "fma", "gpu": 0, "seconds": 0.5, "timeout_s": 0.6}
    assert t.stalled and t.value is None and t.unit == "TFLOP/s" and t.stall_ms == pytest.approx(600.0)
    assert "did not finish within 600 ms" in t.reason and t.finished_ns >= t.started_ns
    assert probe.workload(0.5, timeout_s=0.0).reason == "no time left in the window for the workload"
    probe.close()
