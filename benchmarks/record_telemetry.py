# SPDX-License-Identifier: Apache-2.0
"""Record real NVML/GPM telemetry windows of known scenarios, for the verdict's tests and thresholds.

Run on a GPU machine (after building waitbench there)::

    python3 benchmarks/record_telemetry.py tests/data/telemetry/<gpu>-<driver>.jsonl [--gpu 0] [--seconds 2.5]

Scenarios, one window each (the scenario runs for the whole window): ``idle`` (nothing: also the
power baseline), ``gemm`` (torch bf16 matmul loop), ``copy`` (torch device-to-device copy loop),
``decode-gemv`` (batch-1 GEMVs and small element-wise kernels), ``tiny-kernels`` (a launch-bound stream
of one-block kernels), ``int-hash`` (an integer-heavy cupy kernel),
``spin-1warp`` (Waiter('spin', blocks=1, threads=32)), ``nccl-simple-16ch`` (nccl-shaped preset
simple-16ch), ``spin-every-sm`` (a 1-warp spin block per SM), ``host-block`` (a host-side wait:
nothing on the GPU). Without torch the gemm and copy scenarios are skipped with a note.
Each line of the output is JSON: ``kind`` "note" (machine, versions), "instrument" (measured
periods, plus the GPM refresh seen under load), or "window" (``scenario``, ``expected_verdict``,
``summary`` with the raw series, ``verdict`` with the PROVISIONAL thresholds of this run, and the
waiter's shape). Total runtime about 40 s.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from waitbench import Waiter, __version__
from waitbench._native import native
from waitbench.errors import WaitbenchError
from waitbench.telemetry import instrument, nvml
from waitbench.telemetry.gpm import GpmReader
from waitbench.telemetry.recording import RecordingWriter
from waitbench.telemetry.sampler import Sampler
from waitbench.telemetry.verdict import classify


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


@contextlib.contextmanager
def torch_loop(step: Callable[[], None], torch: Any) -> Iterator[None]:
    """Run ``step`` in a background thread (10 launches, then a sync that releases the GIL) until exit."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            while not stop.is_set():
                for _ in range(10):
                    step()
                torch.cuda.synchronize()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, raised after the window
            errors.append(exc)

    th = threading.Thread(target=loop, name="record-load", daemon=True)
    th.start()
    try:
        time.sleep(0.3)  # reach steady state before the window opens
        yield
    finally:
        stop.set()
        th.join()
    if errors:
        raise errors[0]


def gemm(torch: Any, gpu: int) -> contextlib.AbstractContextManager[None]:
    """Keep a bf16 GEMM running on ``gpu`` while the block runs."""
    a = torch.randn(8192, 8192, device=f"cuda:{gpu}", dtype=torch.bfloat16)
    b = torch.randn_like(a)
    return torch_loop(lambda: torch.matmul(a, b), torch)


def copy(torch: Any, gpu: int) -> contextlib.AbstractContextManager[None]:
    """Keep a 1 GiB device copy running on ``gpu`` while the block runs."""
    src = torch.empty(1 << 30, device=f"cuda:{gpu}", dtype=torch.uint8)
    dst = torch.empty_like(src)
    return torch_loop(lambda: dst.copy_(src), torch)


def decode(torch: Any, gpu: int) -> contextlib.AbstractContextManager[None]:
    """A batch-1 decode step, as an LLM idling on one request.

    GEMVs through 8 bf16 4096x4096 weights (256 MB, beyond the L2) and small element-wise kernels on
    4096-wide vectors: few blocks each, memory-bound.
    """
    dev = f"cuda:{gpu}"
    weights = [torch.randn(4096, 4096, device=dev, dtype=torch.bfloat16) for _ in range(8)]
    x = torch.randn(1, 4096, device=dev, dtype=torch.bfloat16)

    def step() -> None:
        h = x
        for w in weights:
            h = torch.nn.functional.silu(h @ w) * 0.5
    return torch_loop(step, torch)


def tiny(torch: Any, gpu: int) -> contextlib.AbstractContextManager[None]:
    """A stream of tiny element-wise kernels (1024 elements, one block each).

    Launch-bound work that keeps a kernel resident only part of the time and touches almost no memory.
    """
    v = torch.randn(1024, device=f"cuda:{gpu}")

    def step() -> None:
        for _ in range(20):
            v.mul_(0.999).add_(0.001)
    return torch_loop(step, torch)


INT_HASH_SRC = r"""
extern "C" __global__ void int_hash(unsigned int* out, int rounds) {
  unsigned int h = blockIdx.x * blockDim.x + threadIdx.x;
  for (int i = 0; i < rounds; ++i) {  // murmur3's finaliser: multiplies, shifts and xors, all integer
    h ^= h >> 16; h *= 0x85ebca6bu; h ^= h >> 13; h *= 0xc2b2ae35u; h ^= h >> 16;
  }
  if (h == 0x12345678u) out[0] = h;  // keeps the loop live; almost never true
}
"""


def int_hash(gpu: int) -> contextlib.AbstractContextManager[None] | None:
    """An integer-heavy kernel (hash rounds in registers, every SM full): the integer pipe works.

    DRAM rests. None without cupy.
    """
    try:
        import cupy
    except ImportError:
        return None
    with cupy.cuda.Device(gpu):
        kernel = cupy.RawKernel(INT_HASH_SRC, "int_hash")
        out = cupy.zeros(1, dtype=cupy.uint32)
        blocks = cupy.cuda.runtime.getDeviceProperties(gpu)["multiProcessorCount"] * 8

    class _Sync:
        @staticmethod
        def synchronize() -> None:
            cupy.cuda.Device(gpu).synchronize()

    class _Torchish:  # torch_loop only calls .cuda.synchronize()
        cuda = _Sync

    def step() -> None:
        with cupy.cuda.Device(gpu):
            kernel((blocks,), (256,), (out, 20000))
    return torch_loop(step, _Torchish)


@contextlib.contextmanager
def waiter(strategy: str, gpu: int, seconds: float, shape: dict[str, Any], **options: Any) -> Iterator[None]:
    """Keep a waiter of ``strategy`` resident while the block runs; its launch shape goes into ``shape``."""
    with Waiter(strategy, gpu=gpu, timeout_s=seconds + 10.0, **options) as w:
        shape.update(w.shape)
        yield


def main(argv: list[str] | None = None) -> int:
    """Record one telemetry window per scenario (idle first: the power baseline)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="JSON Lines file to append to")
    ap.add_argument("--gpu", type=int, default=0, help="CUDA device index")
    ap.add_argument("--seconds", type=float, default=2.5, help="window length per scenario")
    args = ap.parse_args(argv)
    torch = _torch()
    info = dict(native().device_info(args.gpu))
    sm_count = int(info["sm_count"])
    with Sampler([args.gpu]) as sampler, RecordingWriter(args.out) as out:
        dev = sampler.devices[0]
        out.write("note", time_utc=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), argv=sys.argv,
                  waitbench_version=__version__, driver_version=nvml.driver_version(), gpu=info,
                  torch_version=getattr(torch, "__version__", None), nvml_index=dev.nvml_index,
                  how="benchmarks/record_telemetry.py: one window per scenario, idle first (power baseline)")
        periods = instrument.measure(dev)
        out.write("instrument", uuid=dev.uuid, util_period_s=periods.util_period_s,
                  energy_period_s=periods.energy_period_s, gpm_interval_s=periods.gpm_interval_s,
                  reasons=periods.reasons, min_window_s=periods.min_window_s())
        shape: dict[str, Any] = {}
        scenarios: list[tuple[str, str, Callable[[], contextlib.AbstractContextManager[None]]]] = [
            ("idle", "idle", contextlib.nullcontext),
            ("spin-1warp", "busy-waiting", lambda: waiter("spin", args.gpu, args.seconds, shape, blocks=1, threads=32)),
            ("nccl-simple-16ch", "busy-waiting",
             lambda: waiter("nccl-shaped", args.gpu, args.seconds, shape, preset="simple-16ch")),
            ("spin-every-sm", "busy-waiting",
             lambda: waiter("spin", args.gpu, args.seconds, shape, blocks=sm_count, threads=32)),
            ("host-block", "idle", lambda: waiter("host-block", args.gpu, args.seconds, shape)),
        ]
        if torch is not None:
            scenarios += [("gemm", "busy", lambda: gemm(torch, args.gpu)),
                          ("copy", "busy", lambda: copy(torch, args.gpu)),
                          ("decode-gemv", "busy", lambda: decode(torch, args.gpu)),
                          ("tiny-kernels", "busy", lambda: tiny(torch, args.gpu))]
        else:
            out.write("note", text="torch is not importable (or sees no GPU): gemm, copy, decode and tiny-kernel "
                                   "scenarios skipped")
            print("note: torch absent, gemm, copy, decode and tiny-kernel scenarios skipped", file=sys.stderr)
        hashing = int_hash(args.gpu)
        if hashing is not None:
            scenarios.append(("int-hash", "busy", lambda: hashing))
        else:
            out.write("note", text="cupy is not importable: the int-hash scenario skipped")
        idle = None
        for name, expected, make in scenarios:
            shape.clear()
            with make():
                sampler.begin()
                time.sleep(args.seconds)
                summary = sampler.end()[dev.uuid]
                if name == "gemm":  # GPM's refresh is only visible under load: probe it here
                    gi, why = instrument.gpm_interval(GpmReader(dev))
                    out.write("instrument", uuid=dev.uuid, scenario=name, gpm_interval_under_load_s=gi, reason=why)
            idle = summary if name == "idle" else idle
            verdict = classify(summary, idle)
            out.window(summary, scenario=name, expected_verdict=expected, baseline_scenario="idle",
                       verdict=verdict.to_dict(), waiter_shape=dict(shape))
            mark = "ok" if verdict.verdict == expected else "MISMATCH"
            print(f"{name:18s} expected {expected:13s} got {verdict.verdict:13s} {mark}: {verdict.reason}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except WaitbenchError as exc:  # no GPU, no NVML: one line, not a traceback
        sys.exit(f"{Path(__file__).name}: {exc}")
