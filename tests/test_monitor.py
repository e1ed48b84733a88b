# SPDX-License-Identifier: Apache-2.0
"""Monitor: argument checks, the real no-NVML path, and (on a GPU) the verdict around each waiter shape."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from helpers.composed_windows import real_window
from waitbench.errors import NvmlError, WaitbenchError
from waitbench.monitor import Monitor
from waitbench.telemetry import nvml

NO_NVML = nvml.unavailable_reason()
WINDOW_S = 2.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(idle_s=0), "idle_s"), (dict(idle_s=61), "idle_s"), (dict(idle_s=True), "idle_s"),
    (dict(idle=42), "idle"), (dict(period_s=0), "period_s"), (dict(gpus=["bogus"]), "gpu="),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Monitor(**kwargs)


def test_summary_before_a_window_is_an_error():
    m = Monitor()
    with pytest.raises(WaitbenchError, match="no finished window"):
        m.summary()
    with pytest.raises(WaitbenchError, match="begin"):
        m.end()
    assert "no finished window" in str(m)


@pytest.mark.skipif(NO_NVML is None, reason="NVML works here; this tests the machine without it")
def test_without_nvml_one_clear_error_and_nothing_left_open():
    with pytest.raises(NvmlError) as info, Monitor(gpus=[0], idle_s=1.0):
        pass  # pragma: no cover
    assert str(info.value) == NO_NVML and "\n" not in NO_NVML
    assert nvml.session_refs() == 0


def test_exception_in_block_propagates_unchanged():
    # Without NVML the block is never entered; with it, the user's error must come out unchanged.
    with pytest.raises((KeyError, NvmlError)), Monitor(gpus=[0]):
        raise KeyError("user code failed")
    assert nvml.session_refs() == 0


# --- on the GPU --------------------------------------------------------------------------------

def _watch(make: Any) -> Any:
    with Monitor(gpus=[0], idle_s=1.0) as m, make():
        time.sleep(WINDOW_S)
    return m.summary()[0]


@contextlib.contextmanager
def _waiter(strategy: str, **options: Any) -> Iterator[None]:
    from waitbench import Waiter

    with Waiter(strategy, gpu=0, timeout_s=WINDOW_S + 10.0, **options):
        yield


@contextlib.contextmanager
def _torch_loop(kind: str) -> Iterator[None]:
    import threading

    torch = pytest.importorskip("torch")
    if kind == "gemm":
        a = torch.randn(8192, 8192, device="cuda:0", dtype=torch.bfloat16)
        b = torch.randn_like(a)

        def step() -> None:
            torch.matmul(a, b)
    else:
        src = torch.empty(1 << 30, device="cuda:0", dtype=torch.uint8)
        dst = torch.empty_like(src)

        def step() -> None:
            dst.copy_(src)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            for _ in range(10):
                step()
            torch.cuda.synchronize()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        time.sleep(0.3)
        yield
    finally:
        stop.set()
        t.join()


def _sm_count() -> int:
    from waitbench._native import native

    return int(native().device_info(0)["sm_count"])


@pytest.mark.gpu
@pytest.mark.parametrize("make", [
    lambda: _waiter("spin", blocks=1, threads=32),
    lambda: _waiter("nccl-shaped", preset="simple-16ch"),
    lambda: _waiter("spin", blocks=_sm_count(), threads=32),
], ids=["spin-1warp", "nccl-simple-16ch", "spin-every-sm"])
def test_busy_waiting_around_device_waiters(make):
    row = _watch(make)
    assert row.verdict == "busy-waiting", row.reason
    assert row.nvml_util_pct is not None and row.nvml_util_pct > 50


@pytest.mark.gpu
def test_idle_around_nothing():
    row = _watch(contextlib.nullcontext)
    assert row.verdict == "idle", row.reason


@pytest.mark.gpu
def test_idle_while_a_host_side_strategy_waits():
    row = _watch(lambda: _waiter("host-block"))
    assert row.verdict == "idle", row.reason


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["gemm", "copy"])
def test_busy_around_real_work(kind):
    row = _watch(lambda: _torch_loop(kind))
    assert row.verdict == "busy", row.reason


@pytest.mark.gpu
def test_table_and_str():
    with Monitor(gpus=[0]) as m:
        time.sleep(1.0)
    text = str(m)
    assert "NVML utilization.gpu" in text and m.summary()[0].verdict in text


def test_str_of_a_finished_window_shows_the_table_and_the_verdict():
    # REAL window (the H100 recording's GEMM), handed to a Monitor as if it had just watched it: the
    # rendering of __str__ runs here without a GPU (the live test above needs one).
    window = real_window("gemm")
    m = Monitor(gpus=[window.uuid])
    m._summaries = {window.uuid: window}
    text = str(m)
    assert "waitbench Monitor" in text and "NVML utilization.gpu" in text and "tensor 91.9%" in text
    assert ": busy: real work: tensor pipe" in text and m.summary()[window.uuid].verdict == "busy"
