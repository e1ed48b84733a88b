# SPDX-License-Identifier: Apache-2.0
"""Python host-side research waiters: they arm, release, expire and abort like the built-in host
waits, their wake-up latency is measured by the Python trial loop, and one that ignores its
deadline is reported (GPU: the work after a released wait runs on the device).
"""

from __future__ import annotations

import time

import pytest

import waitbench
from waitbench.custom import HostWaitContext, Option, WaiterOverdue, register_strategy

pytestmark = pytest.mark.gpu


def sleep_poll(ctx: HostWaitContext, sleep_us: int) -> str:
    """Polls the release word, sleeping between polls (vLLM's shm_broadcast, written in Python)."""
    while not ctx.released():
        if ctx.aborted():
            return "aborted"
        if ctx.expired():
            return "expired"
        time.sleep(sleep_us / 1e6)
    return "released"


def blocking(ctx: HostWaitContext) -> str:
    """Blocks on an event until released, aborted or the deadline (a Barrier, in Python)."""
    if ctx.wait_released():
        return "released"
    return "aborted" if ctx.aborted() else "expired"


def ignores_deadline(ctx: HostWaitContext, stop_s: float) -> str:
    """Waits for the release or abort only, or stop_s at most: a broken host wait."""
    end = time.monotonic() + stop_s
    while not (ctx.released() or ctx.aborted()) and time.monotonic() < end:
        time.sleep(0.001)
    return "released" if ctx.released() else "aborted"


@pytest.fixture(params=["py-sleep-poll", "py-blocking"])
def host_strategy(request: pytest.FixtureRequest) -> str:
    if request.param == "py-sleep-poll":
        register_strategy("py-sleep-poll", host_wait=sleep_poll,
                          options=(Option("sleep_us", int, 100, "sleep between polls", "us", 1, 100_000),))
    else:
        register_strategy("py-blocking", host_wait=blocking)
    return request.param


def test_arm_release_complete_runs_the_work_and_measures_the_thread(host_strategy: str) -> None:
    w = waitbench.Waiter(host_strategy, timeout_s=5.0)
    try:
        assert w.host_wait_in_python and not w.device_clock and w.shape == {}
        w.arm()
        time.sleep(0.01)
        w.release()
        out = w.wait()
        assert out.status == "released"
        assert out.release_ns <= out.host_observe_ns <= out.ack_ns  # released, seen, then the GPU work done
        assert out.wait_wall_ns >= 5e6 and out.wait_cpu_ns >= 0
    finally:
        w.close()


def test_expiry_and_abort_end_a_wait(host_strategy: str) -> None:
    w = waitbench.Waiter(host_strategy, timeout_s=0.2)
    try:
        t0 = time.monotonic()
        w.arm()
        assert w.wait(timeout_s=5.0).status == "expired"
        assert 0.19 <= time.monotonic() - t0 <= 0.2 + 0.5
        w.arm()
        w.abort()
        assert w.wait(timeout_s=5.0).status == "aborted"
    finally:
        w.close()


def test_wake_latency_runs_the_python_trial_loop(host_strategy: str) -> None:
    wl = waitbench.wake_latency(host_strategy, trials=100, warmup=5, timeout_s=5.0)
    f = wl.record_fields()
    assert wl.expired == 0 and f["wake_trials"] == 100
    assert 0 < f["wake_observe_p50_us"] <= f["wake_rtt_p50_us"]
    assert wl.host_cpu_pct is not None and 0 <= wl.host_cpu_pct <= 100.0 + 5.0


def test_a_host_wait_that_ignores_its_deadline_is_reported() -> None:
    register_strategy("py-ignores-deadline", host_wait=ignores_deadline,
                      options=(Option("stop_s", float, 30.0, "give up after", "s", 0.1, 60.0),))
    w = waitbench.Waiter("py-ignores-deadline", timeout_s=0.2)
    try:
        w.arm()
        with pytest.raises(WaiterOverdue, match=r"outlived its deadline.*ended only once aborted"):
            w.wait()
        w.arm()  # it ended: the waiter can be used again
        w.release()
        assert w.wait().status == "released"
    finally:
        w.close()


def test_a_wait_function_returning_nonsense_is_a_clear_error() -> None:
    register_strategy("py-nonsense", host_wait=lambda ctx: "done")
    w = waitbench.Waiter("py-nonsense", timeout_s=1.0)
    try:
        w.arm()
        with pytest.raises(ValueError, match=r"return value of 'py-nonsense'.*'done' is invalid: expected one of "
                                             "released, expired, aborted"):
            w.wait()
    finally:
        w.close()
