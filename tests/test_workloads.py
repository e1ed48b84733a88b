# SPDX-License-Identifier: Apache-2.0
"""Built-in workloads reach their ceilings (GPU); names and adapters fail clearly (CPU)."""

from __future__ import annotations

import statistics

import pytest

from waitbench import workloads


def test_unknown_workload_is_refused() -> None:
    with pytest.raises(ValueError, match="workload='matmul' is invalid: expected one of fma, stream, memcpy"):
        workloads.make("matmul")


def test_gemm_size_is_validated() -> None:
    with pytest.raises(ValueError, match="n=100 is invalid"):
        workloads.GemmWorkload(100)


def _sm_clock_mhz() -> float:
    import pynvml

    from waitbench._native import native

    pynvml.nvmlInit()
    try:
        h = pynvml.nvmlDeviceGetHandleByUUID(native().device_info(0)["uuid"])
        return float(pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM))
    finally:
        pynvml.nvmlShutdown()


@pytest.mark.gpu
def test_fma_reaches_90_percent_of_fp32_peak() -> None:
    from waitbench._native import native

    info = native().device_info(0)
    tw = workloads.TimedWorkload("fma")
    tw.calibrate(0.2)
    runs = [tw.throughput(tw.run()) for _ in range(5)]
    clock = _sm_clock_mhz()  # read right after the runs, while the clock is at its working value
    lanes = 64 if (info["cc_major"], info["cc_minor"]) == (8, 0) else 128
    peak = info["sm_count"] * lanes * 2 * clock * 1e6 / 1e12
    assert statistics.median(runs) >= 0.90 * peak, (runs, peak, clock)


@pytest.mark.gpu
def test_stream_reaches_90_percent_of_device_copy_bandwidth() -> None:
    copy, stream = workloads.TimedWorkload("memcpy"), workloads.TimedWorkload("stream")
    copy.calibrate(0.1)
    stream.calibrate(0.1)
    c, s = [], []
    for _ in range(5):  # interleaved, compared as medians
        c.append(copy.throughput(copy.run()))
        s.append(stream.throughput(stream.run()))
    assert statistics.median(s) >= 0.90 * statistics.median(c), (s, c)
