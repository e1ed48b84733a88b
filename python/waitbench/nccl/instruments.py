# SPDX-License-Identifier: Apache-2.0
"""What one rank measures on its own GPU and host while it waits.

A telemetry window, host CPU, the throughput concurrent-stream workloads still get, the NCCL
kernel's launch shape, and common calls.

Why everything is made before the wait: ``cudaFree``, ``cudaDeviceSynchronize``, stream destruction
and some allocations wait for the device, and a workload run that was built and freed during the
wait measured that, not the wait (on two H200s every spinning mode read 'stalled' that way: the run
returned only after the late rank arrived, when its buffers were freed). So each workload is built,
loaded and calibrated once per rank; during a wait it only enqueues launches on its own stream and
polls an event. Which calls do wait for the device is measured on purpose, one call per episode
(:meth:`Instruments.side_call`).

Every missing instrument (gloo backend, no NVML, native core not built) becomes None with a reason,
so a dry run and a partial machine still produce complete records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..workloads import Throughput, TimedWorkload


@dataclass
class Window:
    """One measured window: the telemetry summary (or why there is none) and host CPU of the process."""

    wall_s: float
    host_cpu_pct: float
    summary: Any | None  # waitbench.telemetry.WindowSummary
    reason: str | None  # why summary is None


def held_up(t: Throughput, arrival_ns: int) -> Throughput:
    """``t`` as a stall if it returned after the late rank arrived, else ``t`` unchanged.

    Why: a run meant to measure the wait that returns only after the wait ended was held up by it;
    its throughput would mostly measure the time after the wait.
    """
    if t.stalled or t.value is None or t.finished_ns <= arrival_ns:
        return t
    after_ms = (t.finished_ns - arrival_ns) / 1e6
    return Throughput(t.workload, None, t.unit, True, f"the {t.workload} workload was held up during the wait: it "
                      f"returned {after_ms:.1f} ms after the late rank arrived", t.started_ns, t.finished_ns,
                      (arrival_ns - t.started_ns) / 1e6)


def sleep_until(t_ns: int) -> None:
    """Sleep until the wall-clock time ``t_ns`` (time.time_ns); returns at once if it has passed."""
    while True:
        left = (t_ns - time.time_ns()) / 1e9
        if left <= 0:
            return
        time.sleep(min(left, 0.05))


class Instruments:
    """The GPU side of one rank's measurements; every part degrades to None + reason.

    Args:
        gpu: CUDA device index of this rank, or None for the gloo dry run (no GPU).
        workloads: names of the concurrent workloads ('fma', 'gemm'), built and loaded here.
        no_gpu_reason: the reason recorded when ``gpu`` is None.
    """

    def __init__(self, gpu: int | None, workloads: Sequence[str] = (), no_gpu_reason: str = "gloo backend: no GPU"):
        self.gpu = gpu
        self._sampler: Any = None
        self._workloads: dict[str, Any] = {}  # name -> waitbench.workloads.TimedWorkload
        self.workload_reasons: dict[str, str] = {}
        if gpu is None:
            self.telemetry_reason: str | None = no_gpu_reason
            self.workload_reasons = dict.fromkeys(workloads, no_gpu_reason)
            return
        self.telemetry_reason = self._start_sampler(gpu)
        for name in workloads:
            self._build(name, gpu)

    def _start_sampler(self, gpu: int) -> str | None:
        try:
            import torch

            from ..telemetry import Sampler

            # The UUID ties this rank's CUDA device to its NVML device without the native core.
            uuid = f"GPU-{torch.cuda.get_device_properties(gpu).uuid}"
            sampler = Sampler([uuid])
            sampler.start()
        except Exception as exc:  # noqa: BLE001 - no NVML, telemetry not built, unknown device: a reason, not a crash
            return f"telemetry unavailable: {type(exc).__name__}: {exc}"
        self._sampler = sampler
        return None

    def _build(self, name: str, gpu: int) -> None:
        try:
            self._workloads[name] = TimedWorkload(name, gpu)
        except Exception as exc:  # noqa: BLE001 - no torch for gemm, native core not built
            self.workload_reasons[name] = f"{name} workload unavailable: {type(exc).__name__}: {exc}"

    @property
    def workloads(self) -> list[str]:
        """Names of the workloads this rank can run."""
        return list(self._workloads)

    def calibrate(self, seconds: float) -> None:
        """Warm every workload up and size its runs to about ``seconds``, on an otherwise idle GPU."""
        for name, tw in list(self._workloads.items()):
            try:
                ok = tw.calibrate(seconds, timeout_s=60.0)
            except Exception as exc:  # noqa: BLE001
                ok, why = False, f"{type(exc).__name__}: {exc}"
            else:
                why = "one launch did not finish within 60 s on an idle GPU"
            if not ok:
                self.workload_reasons[name] = f"{name} workload could not be calibrated: {why}"
                del self._workloads[name]

    def window_until(self, t_end_ns: int) -> Window:
        """Measure from now until ``t_end_ns``: telemetry on this GPU and CPU time of this process.

        Host CPU is ``time.process_time`` over wall time, so it counts every thread of the rank's
        process: the collective's caller, torch's watchdog, NCCL's proxy, and this module's NVML
        sampler thread (its own share is reported beside it as extra["sampler_cpu_pct"]).
        """
        reason, sampling = self.telemetry_reason, self._sampler is not None
        if sampling:
            try:
                self._sampler.begin()
            except Exception as exc:  # noqa: BLE001
                reason, sampling = f"telemetry failed: {type(exc).__name__}: {exc}", False
        cpu0, wall0 = time.process_time(), time.perf_counter()
        sleep_until(t_end_ns)
        cpu1, wall1 = time.process_time(), time.perf_counter()
        summary = None
        if sampling:
            try:
                summaries = self._sampler.end()
                summary = next(iter(summaries.values())) if len(summaries) == 1 else None
                if summary is None:
                    reason = f"telemetry returned {len(summaries)} GPUs for one device"
            except Exception as exc:  # noqa: BLE001
                reason = f"telemetry failed: {type(exc).__name__}: {exc}"
        wall = wall1 - wall0
        return Window(wall, 100.0 * (cpu1 - cpu0) / wall if wall > 0 else 0.0, summary, reason)

    def workload(self, name: str, timeout_s: float | None = None) -> Throughput:
        """One calibrated run of workload ``name`` (None + reason if unavailable).

        A run not finished within ``timeout_s`` of its enqueue is a stall: value None, stalled True;
        its launches stay queued until :meth:`drain`.
        """
        start = time.time_ns()
        tw = self._workloads.get(name)
        if tw is None:
            return Throughput(name, None, None, False, self.workload_reasons.get(name, f"{name} not measured"),
                              start, start)
        if timeout_s is not None and timeout_s <= 0:
            return Throughput(name, None, None, False, "no time left in the window for the workload", start, start)
        try:
            return tw.measured(60.0 if timeout_s is None else timeout_s)
        except Exception as exc:  # noqa: BLE001
            return Throughput(name, None, None, False, f"workload failed: {type(exc).__name__}: {exc}", start,
                              time.time_ns())

    def drain(self, timeout_s: float = 60.0) -> None:
        """Wait for launches a stalled run left queued (after the wait ended)."""
        for tw in self._workloads.values():
            tw.finish(timeout_s)

    def kernel_shape(self, fn: Callable[[], Any]) -> tuple[dict[str, Any] | None, str | None]:
        """The launch shape of the NCCL kernel ``fn`` launches (profiled), or (None, why not)."""
        if self.gpu is None:
            return None, self.telemetry_reason
        try:
            import torch

            from ..kernel_profile import profiled_kernels

            kernels = [k for k in profiled_kernels(torch, fn, self.gpu) if "nccl" in (k["kernel"] or "").lower()]
        except Exception as exc:  # noqa: BLE001 - a profiler that cannot start: the shape is unknown
            return None, f"profiler failed: {type(exc).__name__}: {exc}"
        if not kernels:
            return None, "the profiler saw no NCCL kernel"
        return max(kernels, key=lambda k: k["grid"] * k["block"]), None

    def side_call(self, name: str) -> Callable[[], tuple[int, int]]:
        """Prepare call ``name`` (waitbench.nccl.config.CALLS).

        Returns a function that makes the call once and gives (start, return) in time.time_ns().
        """
        if self.gpu is None:
            raise ValueError("side calls need a GPU (the nccl backend)")
        if name == "torch.cuda.empty_cache":
            import torch

            torch.empty(16 << 20, dtype=torch.float32, device=f"cuda:{self.gpu}")  # freed: a cached block to return
            call: Callable[[], Any] = torch.cuda.empty_cache
        else:
            from .._native import require_gpu

            call = require_gpu(self.gpu).SideCall(name, self.gpu).run

        def make() -> tuple[int, int]:
            start = time.time_ns()
            call()
            return start, time.time_ns()
        return make

    def close(self) -> None:
        """Stop the sampler and drop the workloads."""
        sampler, self._sampler = self._sampler, None
        if sampler is not None:
            sampler.stop()
        self._workloads.clear()


def classify(summary: Any, idle: Any) -> tuple[Any, str | None]:
    """(the waitbench.telemetry.classify Verdict, None), or (None, why there is none)."""
    if summary is None:
        return None, "no telemetry window"
    try:
        from ..telemetry import classify as telemetry_classify

        return telemetry_classify(summary, idle), None
    except Exception as exc:  # noqa: BLE001
        return None, f"verdict unavailable: {type(exc).__name__}: {exc}"
