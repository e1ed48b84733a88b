# SPDX-License-Identifier: Apache-2.0
"""Every strategy arms, is released and completes; expiry and abort end waits by themselves; device
waiters are really resident and front-end waiters really wait (GPU), and shapes are validated.
"""

from __future__ import annotations

import time

import pytest

import waitbench
from waitbench.errors import WaitbenchError, WaitExpired

ALL = [s.name for s in waitbench.strategies()]
pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("name", ALL)
def test_arm_release_complete(name: str) -> None:
    with waitbench.Waiter(name, timeout_s=5.0) as w:
        assert w.armed
    w2 = waitbench.Waiter(name, timeout_s=5.0)
    try:
        w2.arm()
        w2.release()
        out = w2.wait()
        assert out.status == "released"
        assert 0 < out.rtt_us < 10_000
    finally:
        w2.close()


@pytest.mark.parametrize("name", ALL)
def test_expiry_without_release_ends_by_itself_within_deadline_plus_margin(name: str) -> None:
    w = waitbench.Waiter(name, timeout_s=0.2)
    try:
        t0 = time.monotonic()
        w.arm()
        out = w.wait(timeout_s=5.0)
        elapsed = time.monotonic() - t0
    finally:
        w.close()
    assert out.status == "expired"
    assert 0.19 <= elapsed <= 0.2 + 0.5


@pytest.mark.parametrize("name", ALL)
def test_abort_ends_a_wait_promptly(name: str) -> None:
    w = waitbench.Waiter(name, timeout_s=30.0)
    try:
        w.arm()
        t0 = time.monotonic()
        w.abort()
        out = w.wait(timeout_s=5.0)
        assert out.status == "aborted"
        assert time.monotonic() - t0 < 1.0
    finally:
        w.close()


@pytest.mark.parametrize("name", ["spin", "stream-wait-value", "host-block", "event-blocking-sync"])
def test_a_checked_wait_raises_wait_expired_past_the_deadline_and_the_waiter_stays_usable(name: str) -> None:
    w = waitbench.Waiter(name, timeout_s=0.2)
    try:
        w.arm()
        with pytest.raises(WaitExpired, match=f"'{name}' reached its deadline"):
            w.wait(timeout_s=5.0, check=True)
        assert not w.armed
        w.arm()
        w.release()
        assert w.wait(check=True).status == "released"
    finally:
        w.close()


def test_a_waiter_that_cannot_become_resident_raises_wait_expired() -> None:
    info = waitbench._native.native().device_info(0)
    blocks = info["max_threads_per_sm"] // 1024 * info["sm_count"]
    full = waitbench.Waiter("spin", blocks=blocks, threads=1024, timeout_s=30.0)  # every SM's thread slots
    assert full.shape["max_resident_blocks"] == blocks
    late = waitbench.Waiter("spin", timeout_s=0.5)
    try:
        full.arm()
        t0 = time.monotonic()
        with pytest.raises(WaitExpired, match=r"not resident within timeout_s=0\.5"):
            late.arm()
        assert time.monotonic() - t0 < 0.5 + 5.0 + 2.0  # its deadline, then the aborted launch's collection
    finally:
        full.close()  # aborts it: then `late`'s kernel gets SMs, sees its abort word and ends
        late.close()


@pytest.mark.parametrize("name", ["spin", "nccl-shaped", "stream-wait-value", "host-block", "event-blocking-sync"])
def test_a_waiter_keeps_waiting_until_released(name: str) -> None:
    w = waitbench.Waiter(name, timeout_s=10.0)
    try:
        w.arm()
        time.sleep(0.2)
        with pytest.raises(WaitbenchError, match="did not end"):
            w._native.wait(0.05)  # nothing acknowledged: still resident / still blocked
        w.release()
        assert w.wait().status == "released"
    finally:
        w.close()


PER_POLLER = {"blocks": 4, "threads": 256, "pollers": 256, "flag_lines": "per-poller"}


@pytest.mark.parametrize("name,opts", [("spin", {"flag": "device"}), ("stream-wait-value", {"flag": "device"}),
                                       ("spin", PER_POLLER), ("spin", {**PER_POLLER, "flag": "device"}),
                                       ("spin-backoff", {"backoff": "fixed", "backoff_ns": 1000}),
                                       ("host-spin", {"spin_us": 50}), ("event-blocking-sync", {"sync": "spin"})])
def test_option_variants_release(name: str, opts: dict) -> None:
    w = waitbench.Waiter(name, timeout_s=5.0, **opts)
    try:
        for _ in range(3):  # re-arming reuses the waiter
            w.arm()
            w.release()
            assert w.wait().status == "released"
    finally:
        w.close()


def test_shape_reports_registers_smem_and_sm_placement() -> None:
    info = waitbench._native.native().device_info(0)
    with waitbench.Waiter("nccl-shaped", preset="simple-16ch") as w:
        shape = w.shape
    assert shape["blocks"] == 16 and shape["threads"] == 544
    assert shape["regs_per_thread"] <= 96  # NCCL's -maxrregcount=96: the largest variant that fits 544 threads
    assert shape["smem_bytes"] >= 40960
    assert len(shape["sm_ids"]) == 16 and all(0 <= s < info["sm_count"] for s in shape["sm_ids"])


def test_shapes_that_cannot_be_resident_are_refused_with_the_reason() -> None:
    info = waitbench._native.native().device_info(0)
    # A 1024-thread block takes half an SM's thread slots: two fit per SM, never more.
    with pytest.raises(ValueError, match="could never all be waiting"):
        waitbench.Waiter("spin", blocks=2 * info["sm_count"] + 1, threads=1024)
    with pytest.raises(ValueError, match="smem_bytes=232448 is invalid"):
        waitbench.Waiter("spin", smem_bytes=232448)


def test_registers_is_a_cap_met_by_the_largest_variant_that_fits() -> None:
    native = waitbench._native.native()
    for regs in native.REGISTER_VARIANTS:
        k = native.spin_kernel_info(0, regs)
        assert k["regs_per_thread"] <= regs and k["max_threads_per_block"] >= 32
        with waitbench.Waiter("spin", threads=min(k["max_threads_per_block"], 1024) // 32 * 32,
                              registers=regs) as w:
            assert w.shape["regs_per_thread"] == k["regs_per_thread"]


def test_leaving_the_block_on_an_exception_aborts_the_waiter() -> None:
    w = waitbench.Waiter("spin", timeout_s=30.0)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError), w:
        raise RuntimeError("user code failed")
    assert time.monotonic() - t0 < 2.0 and not w.armed
