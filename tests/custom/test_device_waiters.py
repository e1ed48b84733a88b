# SPDX-License-Identifier: Apache-2.0
"""Research waiters on the GPU behave like the built-ins: a numba kernel, a cupy RawKernel and CUDA
C++ compiled by NVRTC arm, release, expire and abort; a kernel that ignores its deadline is caught,
and the GPU is free again afterwards (GPU; cupy and numba tests skip where they are missing).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import waitbench
from waitbench._native import native
from waitbench.custom import CudaSource, Launch, Option, WaiterOverdue, WaiterStuck, register_strategy

pytestmark = pytest.mark.gpu
EXAMPLES = Path(__file__).resolve().parents[2] / "benchmarks" / "examples"

# Ignores timeout_ns on purpose; a hard stop (its own clock) bounds it so that no test holds the GPU forever.
BROKEN = CudaSource(r"""
extern "C" __global__ void ignores_deadline(const unsigned int* flag, const unsigned int* abort, wb::BlockSlot* slots,
                                            unsigned long long timeout_ns, unsigned int gen, long long honour_abort,
                                            long long hard_stop_ms) {
  if (threadIdx.x != 0) return;
  wb::BlockSlot* slot = slots + blockIdx.x;
  const unsigned long long hard_stop = wb::arm_block(slot, gen) + (unsigned long long)hard_stop_ms * 1000000ull;
  unsigned int outcome = wb::kExpired;
  unsigned long long wake = 0;
  for (;;) {
    if (wb::released(flag, gen)) { outcome = wb::kReleased; wake = wb::globaltimer_ns(); break; }
    if (honour_abort && wb::ld_volatile(abort) != 0) { outcome = wb::kAborted; break; }
    if (wb::globaltimer_ns() > hard_stop) break;
  }
  wb::finish_block(slot, gen, outcome, wake);
}
""", "ignores_deadline")


@pytest.fixture
def numba_backoff() -> Iterator[str]:
    sys.path.insert(0, str(EXAMPLES))
    try:
        import backoff_numba

        backoff_numba.numpy_compat_for_numba_cuda()  # the device's NumPy 2.5 lacks np.row_stack
        pytest.importorskip("numba.cuda")

        backoff_numba.register()
        yield backoff_numba.NAME
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture
def cupy_warps() -> Iterator[str]:
    pytest.importorskip("cupy")
    sys.path.insert(0, str(EXAMPLES))
    try:
        import warp_pollers_cupy

        warp_pollers_cupy.register()
        yield warp_pollers_cupy.NAME
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture
def broken() -> str:
    pytest.importorskip("cupy")
    register_strategy("t-ignores-deadline", BROKEN, launch=Launch(threads=32),
                      options=(Option("honour_abort", bool, True, "end when the abort word is set"),
                               Option("hard_stop_ms", int, 20_000, "end by itself this long after starting", "ms",
                                      1, 60_000)))
    return "t-ignores-deadline"


@pytest.fixture(params=["numba", "cupy", "nvrtc"])
def device_strategy(request: pytest.FixtureRequest) -> str:
    if request.param == "numba":
        return request.getfixturevalue("numba_backoff")
    if request.param == "cupy":
        return request.getfixturevalue("cupy_warps")
    return request.getfixturevalue("broken")  # honours release and abort; only its deadline is ignored


def test_arm_release_complete_with_a_real_shape(device_strategy: str) -> None:
    with waitbench.Waiter(device_strategy, timeout_s=5.0) as w:
        assert w.armed and w.source == "registered" and not w.host_wait_in_python
        shape = w.shape
    assert shape["blocks"] == 1 and shape["threads"] >= 32 and shape["regs_per_thread"] > 0
    assert len(shape["sm_ids"]) == 1
    w2 = waitbench.Waiter(device_strategy, timeout_s=5.0)
    try:
        w2.arm()
        w2.release()
        out = w2.wait()
        assert out.status == "released" and out.wake_gt_ns > 0
        assert 0 < out.rtt_us < 10_000
    finally:
        w2.close()


@pytest.mark.parametrize("name_fixture", ["numba_backoff", "cupy_warps"])
def test_expiry_without_release_ends_by_itself_within_deadline_plus_margin(name_fixture: str,
                                                                           request: pytest.FixtureRequest) -> None:
    w = waitbench.Waiter(request.getfixturevalue(name_fixture), timeout_s=0.2)
    try:
        t0 = time.monotonic()
        w.arm()
        out = w.wait(timeout_s=5.0)
        elapsed = time.monotonic() - t0
    finally:
        w.close()
    assert out.status == "expired"
    assert 0.19 <= elapsed <= 0.2 + 0.5


def test_abort_ends_a_wait_promptly(device_strategy: str) -> None:
    w = waitbench.Waiter(device_strategy, timeout_s=30.0)
    try:
        w.arm()
        t0 = time.monotonic()
        w.abort()
        out = w.wait(timeout_s=5.0)
        assert out.status == "aborted"
        assert time.monotonic() - t0 < 1.0
    finally:
        w.close()


@pytest.mark.parametrize("name_fixture,opts,pollers", [("numba_backoff", {"blocks": 4}, 1),
                                                       ("cupy_warps", {"blocks": 4, "threads": 256}, 8)])
def test_several_blocks_each_report_their_sm(name_fixture: str, opts: dict, pollers: int,
                                             request: pytest.FixtureRequest) -> None:
    with waitbench.Waiter(request.getfixturevalue(name_fixture), timeout_s=5.0, **opts) as w:
        shape = w.shape
    assert shape["blocks"] == 4 and len(shape["sm_ids"]) == 4 and shape["pollers"] == pollers


def test_wake_latency_of_a_research_kernel_is_timed_by_the_core(device_strategy: str) -> None:
    wl = waitbench.wake_latency(device_strategy, trials=300, warmup=20, timeout_s=5.0)
    f = wl.record_fields()
    assert wl.expired == 0 and wl.aborted == 0 and f["wake_trials"] == 300
    assert f["wake_observe_p50_us"] is not None and 0 < f["wake_rtt_p50_us"] < 1000


def _spin_still_works() -> None:
    w = waitbench.Waiter("spin", timeout_s=5.0)
    try:
        w.arm()
        w.release()
        assert w.wait(timeout_s=5.0).status == "released"
    finally:
        w.close()


def test_a_kernel_that_ignores_its_deadline_is_reported_aborted_and_the_gpu_freed(broken: str) -> None:
    w = waitbench.Waiter(broken, timeout_s=0.2, honour_abort=True)
    try:
        w.arm()
        t0 = time.monotonic()
        with pytest.raises(WaiterOverdue, match=r"outlived its deadline.*ended only once the abort word was set"):
            w.wait()
        assert time.monotonic() - t0 < 0.2 + 1.0 + 2.0 + 1.0  # deadline + grace + abort grace, not its 20 s
        assert not w.armed
    finally:
        w.close()
    _spin_still_works()


def test_a_kernel_that_ignores_deadline_and_abort_is_reported_stuck_without_hanging(broken: str) -> None:
    w = waitbench.Waiter(broken, timeout_s=0.2, honour_abort=False, hard_stop_ms=6000)
    w.arm()
    t0 = time.monotonic()
    with pytest.raises(WaiterStuck, match="GPU stays occupied by it until this process exits"):
        w.wait()
    assert time.monotonic() - t0 < 4.5  # reported, not waited for
    with pytest.raises(WaiterStuck, match="cannot be used again"):
        w.arm()
    w.close()  # leaves the stuck waiter's memory alone (freeing it would wait behind the kernel)
    stuck = w._native
    assert stuck.stuck and stuck.closed
    # This test's kernel stops by itself at its hard stop; then the GPU is free again.
    assert native().wait_stream_idle(stuck._stream, 0, 15.0) > 0
    _spin_still_works()
