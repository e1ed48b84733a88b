# SPDX-License-Identifier: Apache-2.0
"""On a GPU: the forward kernel's %globaltimer stamp on the host clock, and kernel-start latencies per mode."""

from __future__ import annotations

import time

import numpy as np
import pytest

from waitbench._native import native
from waitbench.dispatch import MODES, Settings, resolve_options, run_modes
from waitbench.dispatch.records import dispatch_record
from waitbench.wake import _offset_at

pytestmark = pytest.mark.gpu


def test_forward_stamp_lies_between_launch_and_finish() -> None:
    nat = native()
    cal0 = nat.calibrate_clock(0)
    fwd = nat.ForwardStamp(0, 8, 1000)
    fwd.launch(0)
    fwd.finish(0, 5.0)  # loads the module
    before = time.monotonic_ns()
    fwd.launch(1)
    gt = fwd.finish(1, 5.0)
    after = time.monotonic_ns()
    cal1 = nat.calibrate_clock(0)
    host = gt - _offset_at(cal0, cal1, np.array([float(before)]))[0]
    slack = max(cal0["uncertainty_ns"], cal1["uncertainty_ns"]) + 1000
    assert before - slack <= host <= after + slack


def test_forward_floor_starts_the_kernel_after_the_store() -> None:
    nat = native()
    cal0 = nat.calibrate_clock(0)
    f = nat.forward_floor(0, 200, 20_000, 5.0)
    cal1 = nat.calibrate_clock(0)
    host = f["kernel_gt_ns"] - _offset_at(cal0, cal1, f["recv_ns"].astype(np.float64))
    assert (host > f["arrival_ns"] - cal0["uncertainty_ns"] - 1000).all()


@pytest.mark.parametrize("name", ["shm-ring-futex", "floor"])
def test_kernel_start_latency_on_one_gpu(name: str) -> None:
    s = Settings(ranks=2, requests=200, warmup=20, rate_hz=500.0, max_rate_requests=50, idle_s=1.0,
                 timeout_s=20.0, gpus=1)
    [res] = list(run_modes([(MODES[name], resolve_options(MODES[name], {}))], s))
    assert res.status == "ok", res.detail
    rec = dispatch_record(res, {"run_id": "t"}, cpu_model="", machine="test")
    assert rec["dispatch_kernel_p50_us"] is not None and rec["dispatch_kernel_p50_us"] > 0
    assert rec["dispatch_last_kernel_p99_us"] >= rec["dispatch_kernel_p50_us"]


@pytest.mark.multigpu
def test_nccl_broadcast_on_two_gpus() -> None:
    pytest.importorskip("torch")
    s = Settings(ranks=2, requests=100, warmup=10, rate_hz=200.0, max_rate_requests=20, idle_s=1.0,
                 timeout_s=30.0, gpus=2)
    for name in ("nccl-broadcast", "mp-barrier+nccl", "host-barrier+nccl"):
        [res] = list(run_modes([(MODES[name], resolve_options(MODES[name], {}))], s))
        assert res.status == "ok", (name, res.detail)
