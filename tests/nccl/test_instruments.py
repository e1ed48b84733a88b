# SPDX-License-Identifier: Apache-2.0
"""A rank's instruments degrade to None with a reason where one is missing (here: no GPU, no NVML)."""

from __future__ import annotations

import time

import pytest

from waitbench.nccl.instruments import Instruments, classify, sleep_until


def test_gloo_instruments_measure_host_cpu_only():
    probe = Instruments(None, ("fma", "gemm"))
    t_end = time.time_ns() + 50_000_000
    w = probe.window_until(t_end)
    assert time.time_ns() >= t_end
    assert w.summary is None and w.reason == "gloo backend: no GPU"
    assert 0.04 <= w.wall_s < 1.0 and w.host_cpu_pct >= 0
    t = probe.workload("fma")
    assert t.value is None and t.reason == "gloo backend: no GPU" and probe.workloads == []
    assert probe.kernel_shape(lambda: None) == (None, "gloo backend: no GPU")
    probe.close()


def test_window_counts_cpu_burnt_in_the_process():
    probe = Instruments(None)
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
    probe = Instruments(0, ("fma",))
    assert probe.telemetry_reason and probe.telemetry_reason.startswith("telemetry unavailable:")
    t = probe.workload("fma")
    assert t.value is None and t.reason.startswith("fma workload unavailable")  # no GPU: a reason, no exception
    w = probe.window_until(time.time_ns() + 10_000_000)
    assert w.summary is None and w.reason == probe.telemetry_reason
    probe.close()


def test_sleep_until_returns_at_once_for_the_past():
    t = time.perf_counter()
    sleep_until(time.time_ns() - 1_000_000_000)
    assert time.perf_counter() - t < 0.01


def test_classify_without_a_window():
    assert classify(None, None) == (None, "no telemetry window")
