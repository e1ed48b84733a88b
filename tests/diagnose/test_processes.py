# SPDX-License-Identifier: Apache-2.0
"""Which process holds the resident kernel: on REAL recorded H100 windows, and the per-process utilization
logic on SYNTHETIC process lists (made-up pids and percentages, named so) and a FakeNvml.
"""

from __future__ import annotations

import os

import pytest

from helpers.composed_windows import RECORDER_PID, real_window
from waitbench.diagnose import processes as procs
from waitbench.diagnose import verdict_rows
from waitbench.errors import NvmlError


def test_real_waiting_window_names_its_only_process():
    s = real_window("nccl-simple-16ch")
    holder = procs.name_holder(s.processes, s.null_reasons)
    assert holder.pid == RECORDER_PID
    assert holder.how == "the only compute process on this GPU"
    (row,) = verdict_rows([s])
    assert row.verdict == "busy-waiting" and row.holder == {"pid": RECORDER_PID, "how": holder.how}


def test_real_idle_window_has_no_holder_and_says_why():
    s = real_window("idle")
    holder = procs.name_holder(s.processes, s.null_reasons)
    assert holder.pid is None and holder.how.startswith("NVML lists no compute process")


def test_real_window_with_a_synthetic_bystander():
    # REAL spin-1warp window; the second process and both utilization figures are SYNTHETIC.
    s = real_window("spin-1warp")
    bystander = 999_999_001
    s.processes = [{**s.processes[0], "sm_util_pct": 98.0}, {"pid": bystander, "name": "jupyter", "sm_util_pct": 0.0}]
    (row,) = verdict_rows([s])
    assert row.verdict == "busy-waiting", row.reason
    assert row.reason.startswith(f"2 processes, but only pid {RECORDER_PID} had kernels resident")
    assert row.holder["pid"] == RECORDER_PID
    # Without per-process utilization the same GPU is shared and NVML cannot name the holder.
    for p in s.processes:
        p.pop("sm_util_pct")
    s.null_reasons[procs.UTIL_REASON_KEY] = "nvmlDeviceGetProcessUtilization is not supported on this GPU or driver"
    (row,) = verdict_rows([s])
    assert row.verdict == "shared" and row.holder["pid"] is None
    assert "is not supported" in row.holder["how"]


SYNTHETIC = [{"pid": 101, "name": "trainer"}, {"pid": 102, "name": "monitor"}]


@pytest.mark.parametrize("utils, pid, needle", [
    ((97.0, 0.0), 101, "pid 101 had kernels resident 97% of the window; the other 1 had none"),
    ((100.0, 100.0), None, "several processes had kernels resident (pid 101, 102)"),
    ((97.0, 20.0), None, "names none clearly: pid 101 97%, pid 102 20%"),
    ((1.0, 0.0), None, "names none clearly: pid 101 1%, pid 102 0%"),
])
def test_holder_from_synthetic_per_process_utilization(utils, pid, needle):
    listed = [{**p, "sm_util_pct": u} for p, u in zip(SYNTHETIC, utils, strict=True)]
    holder = procs.name_holder(listed)
    assert holder.pid == pid and needle in holder.how


def test_cmdline_and_describe():
    mine = procs.cmdline(os.getpid())
    assert mine is not None and "pytest" in mine
    assert procs.cmdline(2**22 + 12345) is None  # beyond pid_max: no such process
    listed = [{"pid": os.getpid(), "name": "python", "used_memory_bytes": 3 << 20}, {"pid": 2**22 + 12345}]
    procs.enrich(listed, {})
    assert listed[0]["cmdline"] == mine and listed[1]["cmdline"] is None
    assert procs.describe(listed[0]).startswith(f"pid {os.getpid()} python (3 MiB): ")
    assert procs.describe(listed[1]).endswith("not visible from this PID namespace (a container?)")


class FakeSample:
    """One FAKE nvmlProcessUtilizationSample_t."""

    def __init__(self, pid: int, ts: int, sm: float) -> None:
        self.pid, self.timeStamp, self.smUtil = pid, ts, sm


class FakeNvml:
    """FAKE stand-in for nvml.call: returns canned samples or raises, to test aggregation only."""

    def __init__(self, samples=None, error: NvmlError | None = None) -> None:
        self.samples, self.error = samples or [], error

    def __call__(self, name, *args):
        assert name == "nvmlDeviceGetProcessUtilization"
        if self.error:
            raise self.error
        return self.samples


def test_per_process_util_averages_samples_after_the_window_start(monkeypatch):
    fake = FakeNvml([FakeSample(7, 50, 0.0), FakeSample(7, 100, 90.0), FakeSample(7, 200, 100.0),
                     FakeSample(8, 150, 0.0)])
    monkeypatch.setattr(procs.nvml, "call", fake)
    util, why = procs.process_sm_util(handle=None, since_us=100)
    assert why is None and util == {7: 95.0, 8: 0.0}


def test_per_process_util_not_found_is_empty_and_other_errors_are_reasons(monkeypatch):
    not_found = NvmlError("nvmlDeviceGetProcessUtilization", 6, "not found")
    monkeypatch.setattr(procs.nvml, "call", FakeNvml(error=not_found))
    assert procs.process_sm_util(None, 0) == ({}, None)
    monkeypatch.setattr(procs.nvml, "call", FakeNvml(error=NvmlError("nvmlDeviceGetProcessUtilization", 3,
                                                                     "not supported")))
    util, why = procs.process_sm_util(None, 0)
    assert util is None and "not supported" in why
    listed, reasons = [{"pid": 1}], {}
    procs.enrich(listed, reasons, handle=object(), since_us=0)
    assert "sm_util_pct" not in listed[0] and "not supported" in reasons[procs.UTIL_REASON_KEY]
