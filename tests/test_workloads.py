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


@pytest.mark.gpu
def test_fma_reaches_90_percent_of_fp32_peak_at_the_clock_it_held() -> None:
    from waitbench._native import native
    from waitbench.runner import fp32_peak_tflops

    info = native().device_info(0)
    tw = workloads.TimedWorkload("fma")
    tw.calibrate(0.2)
    fractions, clocks = [], []
    for _ in range(5):
        tput = tw.throughput(tw.run())
        clock = tw.held_clock_mhz()
        assert clock is not None and 100.0 < clock < 5000.0, clock
        ident = {"gpu_sm_count": info["sm_count"], "gpu_cc": f"{info['cc_major']}.{info['cc_minor']}"}
        fractions.append(tput / fp32_peak_tflops(ident, clock))
        clocks.append(clock)
    # A ceiling is a ceiling: over 1 would mean the clock is not the one the kernel ran at.
    assert 0.90 <= statistics.median(fractions) <= 1.0, (fractions, clocks)


@pytest.mark.gpu
def test_only_fma_measures_its_clock() -> None:
    tw = workloads.TimedWorkload("stream")
    tw.calibrate(0.05)
    tw.run()
    assert tw.held_clock_mhz() is None


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
