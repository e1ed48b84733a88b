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


def test_each_workload_owns_its_ceiling() -> None:
    h100 = {"gpu_sm_count": 132, "gpu_cc": "9.0"}
    fma = workloads.make("fma").ceiling(h100, [1900.0, 1980.0, 1960.0])
    assert fma.value == pytest.approx(132 * 128 * 2 * 1960e6 / 1e12)  # SMs x lanes x 2 flop x the median clock
    assert fma.extra["tput_ceiling_clock_mhz"] == 1960.0 and "clock64" in fma.extra["tput_ceiling_clock_source"]
    a100 = workloads.make("fma").ceiling({"gpu_sm_count": 108, "gpu_cc": "8.0"}, [1410.0])
    assert a100.value == pytest.approx(108 * 64 * 2 * 1410e6 / 1e12)  # GA100 has 64 FP32 lanes per SM
    assert "measured no SM clock" in workloads.make("fma").ceiling(h100, []).reason
    assert workloads.make("stream").ceiling(h100, []).reason == "the copy bandwidth was not measured"
    assert workloads.make("gemm").ceiling(h100, [1980.0]).reason == "no measured ceiling for this workload"


@pytest.mark.gpu
def test_a_measured_run_is_a_throughput_with_its_unit_and_stamps() -> None:
    tw = workloads.TimedWorkload("fma")
    tw.calibrate(0.05)
    t = tw.measured()
    assert t.workload == "fma" and t.unit == "TFLOP/s" and t.value and t.value > 0 and not t.stalled
    assert t.finished_ns > t.started_ns and t.elapsed_s and t.reason is None


@pytest.mark.gpu
def test_fma_reaches_90_percent_of_fp32_peak_at_the_clock_it_held() -> None:
    from waitbench._native import native
    from waitbench.workloads import fp32_peak_tflops

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
