# SPDX-License-Identifier: Apache-2.0
"""What one rank measures on its own GPU and host while it waits: a telemetry window, host CPU, and
the throughput a concurrent-stream workload still gets.

Why separate from the scenario: the scenario decides *when* (relative to the late rank's arrival);
this module decides *how*, and turns every missing instrument (gloo backend, no NVML, native core not
built) into a None with a reason instead of an exception, so a dry run and a partial machine still
produce complete records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

# Name of the concurrent workload (waitbench.workloads): FP32 FMA-bound, so it competes for the SMs
# and issue slots a waiting kernel holds, not for the memory the collective moves.
WORKLOAD = "fma"


@dataclass
class Window:
    """One measured window: the telemetry summary (or why there is none) and host CPU of the process."""

    wall_s: float
    host_cpu_pct: float
    summary: Any | None  # waitbench.telemetry.WindowSummary
    reason: str | None  # why summary is None


@dataclass
class Throughput:
    """A workload run, or why there is none (value None): a stall has value None, stalled True, the
    reason, and ``stall_ms``, how long it was held up before it was given up on."""

    value: float | None
    unit: str | None
    stalled: bool
    reason: str | None
    started_ns: int  # time.time_ns() when the call began (calibration included)
    finished_ns: int  # time.time_ns() when the run returned
    stall_ms: float | None = None


def held_up(t: Throughput, arrival_ns: int) -> Throughput:
    """``t`` as a stall if it returned after the late rank arrived, else ``t`` unchanged.

    Why: a concurrent run meant to measure the wait that returns only after the wait ended was held
    up by it (run_timed's calibration launches, which come before its stall timeout starts, wait as
    long as the collective does); its throughput would mostly measure the time after the wait.
    """
    if t.stalled or t.value is None or t.finished_ns <= arrival_ns:
        return t
    after_ms = (t.finished_ns - arrival_ns) / 1e6
    return Throughput(None, t.unit, True, f"the {WORKLOAD} workload was held up during the wait: it returned "
                      f"{after_ms:.1f} ms after the late rank arrived", t.started_ns, t.finished_ns,
                      (arrival_ns - t.started_ns) / 1e6)


def sleep_until(t_ns: int) -> None:
    """Sleep until the wall-clock time ``t_ns`` (time.time_ns); returns at once if it has passed."""
    while True:
        left = (t_ns - time.time_ns()) / 1e9
        if left <= 0:
            return
        time.sleep(min(left, 0.05))


class Probe:
    """The GPU side of one rank's measurements; every part degrades to None + reason.

    Args:
        gpu: CUDA device index of this rank, or None for the gloo dry run (no GPU).
        no_gpu_reason: the reason recorded when ``gpu`` is None.
    """

    def __init__(self, gpu: int | None, no_gpu_reason: str = "gloo backend: no GPU") -> None:
        self.gpu = gpu
        self._sampler: Any = None
        self._run_timed: Any = None
        if gpu is None:
            self.telemetry_reason: str | None = no_gpu_reason
            self.workload_reason: str | None = no_gpu_reason
            return
        self.telemetry_reason = self._start_sampler(gpu)
        self.workload_reason = self._find_workload()

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

    def _find_workload(self) -> str | None:
        try:
            from ..workloads import run_timed
        except Exception as exc:  # noqa: BLE001
            return f"concurrent workload unavailable: {type(exc).__name__}: {exc}"
        self._run_timed = run_timed
        return None

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

    def workload(self, seconds: float, timeout_s: float | None = None) -> Throughput:
        """Run the concurrent workload on this GPU for about ``seconds`` (None + reason if unavailable).

        A run not finished within ``timeout_s`` of its enqueue (run_timed's default if None) is a
        stall: value None, stalled True; the call returns once the queued work has drained.
        """
        start = time.time_ns()
        if self._run_timed is None or self.gpu is None:
            return Throughput(None, None, False, self.workload_reason, start, start)
        if seconds <= 0 or (timeout_s is not None and timeout_s <= 0):
            return Throughput(None, None, False, "no time left in the window for the workload", start, start)
        try:
            tput = self._run_timed(WORKLOAD, gpu=self.gpu, seconds=seconds, timeout_s=timeout_s)
        except Exception as exc:  # noqa: BLE001
            return Throughput(None, None, False, f"workload failed: {type(exc).__name__}: {exc}", start,
                              time.time_ns())
        if tput.stalled:
            stall_ms = float(tput.elapsed_s) * 1e3
            return Throughput(None, str(tput.unit), True, f"the {WORKLOAD} workload did not finish within "
                              f"{stall_ms:.0f} ms of its enqueue (stalled)", start, time.time_ns(), stall_ms)
        return Throughput(float(tput.value), str(tput.unit), False, None, start, time.time_ns())

    def close(self) -> None:
        sampler, self._sampler = self._sampler, None
        if sampler is not None:
            sampler.stop()


def classify(summary: Any, idle: Any) -> tuple[str | None, str | None]:
    """(verdict, reason) from waitbench.telemetry.classify, or (None, why not)."""
    if summary is None:
        return None, "no telemetry window"
    try:
        from ..telemetry import classify as telemetry_classify

        verdict = telemetry_classify(summary, idle)
    except Exception as exc:  # noqa: BLE001
        return None, f"verdict unavailable: {type(exc).__name__}: {exc}"
    return verdict.verdict, verdict.reason
