# SPDX-License-Identifier: Apache-2.0
"""Record real NVML/GPM telemetry windows of known scenarios, for the verdict's tests and thresholds.

Run on a GPU machine (after building waitbench there)::

    python3 benchmarks/record_telemetry.py tests/data/telemetry/<gpu>-<driver>.jsonl [--gpu 0] [--seconds 2.5]

Scenarios, one window each (the scenario runs for the whole window): ``idle`` (nothing: also the
power baseline), ``gemm`` (torch bf16 matmul loop), ``copy`` (torch device-to-device copy loop),
``spin-1warp`` (Waiter('spin', blocks=1, threads=32)), ``nccl-simple-16ch`` (nccl-shaped preset
simple-16ch), ``spin-every-sm`` (a 1-warp spin block per SM), ``host-block`` (a host-side wait:
nothing on the GPU). Without torch the gemm and copy scenarios are skipped with a note.
Each line of the output is JSON: ``kind`` "note" (machine, versions), "instrument" (measured
periods, plus the GPM refresh seen under load), or "window" (``scenario``, ``expected_verdict``,
``summary`` with the raw series, ``verdict`` with the PROVISIONAL thresholds of this run, and the
waiter's shape). Total runtime about 25 s.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

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
        except BaseException as exc:  # surfaced after the window
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
    a = torch.randn(8192, 8192, device=f"cuda:{gpu}", dtype=torch.bfloat16)
    b = torch.randn_like(a)
    return torch_loop(lambda: torch.matmul(a, b), torch)


def copy(torch: Any, gpu: int) -> contextlib.AbstractContextManager[None]:
    src = torch.empty(1 << 30, device=f"cuda:{gpu}", dtype=torch.uint8)
    dst = torch.empty_like(src)
    return torch_loop(lambda: dst.copy_(src), torch)


@contextlib.contextmanager
def waiter(strategy: str, gpu: int, seconds: float, shape: dict[str, Any], **options: Any) -> Iterator[None]:
    with Waiter(strategy, gpu=gpu, timeout_s=seconds + 10.0, **options) as w:
        shape.update(w.shape)
        yield


def main(argv: list[str] | None = None) -> int:
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
                          ("copy", "busy", lambda: copy(torch, args.gpu))]
        else:
            out.write("note", text="torch is not importable (or sees no GPU): gemm and copy scenarios skipped")
            print("note: torch absent, gemm and copy skipped", file=sys.stderr)
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
