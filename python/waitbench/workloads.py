# SPDX-License-Identifier: Apache-2.0
"""Concurrent workloads: what a waiter leaves to real work on another stream of the same GPU.

Built-ins: ``gemm`` (torch bf16 tensor-core matrix product), ``fma`` (FP32 FMA-bound kernel with a
known flop count), ``stream`` (memory-bound copy with a known byte count) and ``memcpy`` (the
device-to-device copy used as the bandwidth ceiling of ``stream``). Adapters wrap a user's torch
callable, cupy kernel or numba.cuda kernel. Every workload enqueues on a stream waitbench owns and
is timed from enqueue (host clock, then an event polled in C++), so work that a resident waiter
keeps off the SMs shows as slow or stalled, never as full speed. Each workload says what the chip's
ceiling for it is (:meth:`Workload.ceiling`), or why it has none.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._native import host, require_gpu
from .errors import invalid
from .stats import median

FP32_LANES_PER_SM = 128  # FP32 FMA lanes per SM on Ampere (GA100 is 64), Ada and Hopper; see _fp32_lanes
# What the FMA ceiling's clock is (records say it in extra.tput_ceiling_clock_source). NVML's SM
# clock, read at 1 Hz around the runs, was 1.66-1.78 GHz while the kernel did work only a ~1.98 GHz
# clock allows (fractions of 1.06-1.14 on H100 and H200).
CLOCK_SOURCE = "held by the FMA kernel during the solo runs: clock64 cycles / %globaltimer ns over all its blocks"
CEILING_RUNS = 5  # runs of the memcpy whose median is the stream ceiling


def _fp32_lanes(cc: str) -> int:
    """FP32 lanes per SM: 64 on sm_80 (A100) and 128 on sm_86+ (Ampere GeForce, Ada, Hopper)."""
    return 64 if cc == "8.0" else FP32_LANES_PER_SM


def fp32_peak_tflops(identity: Mapping[str, Any], clock_mhz: float) -> float:
    """FP32 FMA peak of the run's GPU at ``clock_mhz``: SMs x FP32 lanes x 2 flop x clock."""
    return identity["gpu_sm_count"] * _fp32_lanes(identity["gpu_cc"]) * 2 * clock_mhz * 1e6 / 1e12


@dataclass(frozen=True)
class Ceiling:
    """The chip's ceiling for a workload, in the workload's unit, or why there is none (value None)."""

    value: float | None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # how it was obtained, for a record's ``extra``


class Workload:
    """Something that enqueues a known amount of work on a given stream.

    Subclasses set ``name``, ``unit`` ('TFLOP/s' or 'TB/s'), ``work_per_launch`` (flop or bytes)
    and implement :meth:`setup` and :meth:`enqueue`.
    """

    name: str = "workload"
    unit: str = "TFLOP/s"
    work_per_launch: float = 0.0

    def setup(self, gpu: int, stream_handle: int) -> None:
        """Allocate and bind to the stream (called once before any timing)."""
        self.gpu, self.stream_handle = gpu, stream_handle

    def enqueue(self, launches: int) -> None:
        """Enqueue ``launches`` launches on the bound stream (each workload implements it)."""
        raise NotImplementedError

    def victim_shape(self) -> dict[str, Any] | None:
        """grid/block/regs/smem (and kernel name) of the workload's kernel where known (None: not read)."""
        return None

    def held_clock_mhz(self) -> float | None:
        """SM clock the last completed run's kernels held, measured by themselves (None: not measured)."""
        return None

    def measure_ceiling(self, run_s: float) -> None:
        """Measure what :meth:`ceiling` needs, once, on the idle GPU after :meth:`setup` (a session's start).

        Most workloads need nothing; ``stream`` times the device-to-device copy here.
        """

    def ceiling(self, identity: Mapping[str, Any], solo_clock_mhz: Sequence[float]) -> Ceiling:
        """The chip's ceiling for this workload on the run's GPU, or why there is none.

        ``identity`` holds the run-identity fields of the GPU; ``solo_clock_mhz`` the SM clock each solo run
        held, where the workload measures it.
        """
        return Ceiling(None, "no measured ceiling for this workload")


class BuiltinWorkload(Workload):
    """A csrc workload (fma, stream, memcpy) sized from ``size`` (iterations or bytes)."""

    SIZES: ClassVar[dict[str, int]] = {"fma": 4096, "stream": 512 << 20, "memcpy": 512 << 20}

    def __init__(self, name: str, size: int | None = None) -> None:
        if name not in self.SIZES:
            raise invalid("workload", name, "one of " + ", ".join(self.SIZES))
        self.name, self.size = name, size or self.SIZES[name]
        self.unit = "TFLOP/s" if name == "fma" else "TB/s"

    def setup(self, gpu: int, stream_handle: int) -> None:
        """Make the native workload on ``gpu`` and read its launch shape and work per launch."""
        super().setup(gpu, stream_handle)
        self._w = require_gpu(gpu).Workload(self.name, gpu, self.size)
        self._info = self._w.info()
        self.work_per_launch = float(self._info["work_per_launch"])

    def enqueue(self, launches: int) -> None:
        """Enqueue ``launches`` launches of the native kernel (or copy)."""
        self._w.enqueue(self.stream_handle, launches)

    def victim_shape(self) -> dict[str, Any] | None:
        """The kernel's grid, block, registers and shared memory (None for the memcpy)."""
        i = self._info
        if self.name == "memcpy":
            return None
        return {"grid": i["grid"], "block": i["block"], "regs": i["regs_per_thread"], "smem": i["smem_bytes"]}


class FmaWorkload(BuiltinWorkload):
    """The FP32 FMA-bound kernel: its ceiling is the FP32 peak at the SM clock its own kernels held."""

    def __init__(self, size: int | None = None) -> None:
        super().__init__("fma", size)

    def held_clock_mhz(self) -> float | None:
        """clock64 cycles over %globaltimer ns summed over every block of the last run."""
        mhz = float(self._w.held_clock_mhz(self.stream_handle))
        return mhz if mhz > 0 else None

    def ceiling(self, identity: Mapping[str, Any], solo_clock_mhz: Sequence[float]) -> Ceiling:
        """FP32 peak at the median clock the kernel held in its solo runs."""
        if not solo_clock_mhz:
            return Ceiling(None, "the FMA kernel measured no SM clock: FP32 peak not computed")
        clock = median(solo_clock_mhz)
        return Ceiling(fp32_peak_tflops(identity, clock), None,
                       {"tput_ceiling_clock_mhz": clock, "tput_ceiling_clock_source": CLOCK_SOURCE})


class StreamWorkload(BuiltinWorkload):
    """The memory-bound copy kernel: its ceiling is the device-to-device cudaMemcpy bandwidth (read + write)."""

    def __init__(self, size: int | None = None) -> None:
        super().__init__("stream", size)
        self._copy_tbs: float | None = None

    def measure_ceiling(self, run_s: float) -> None:
        """The median of :data:`CEILING_RUNS` device-to-device copies, calibrated to about ``run_s``."""
        tw = TimedWorkload("memcpy", self.gpu)
        tw.calibrate(run_s)
        self._copy_tbs = median([tw.throughput(tw.run()) for _ in range(CEILING_RUNS)])

    def ceiling(self, identity: Mapping[str, Any], solo_clock_mhz: Sequence[float]) -> Ceiling:
        """The device copy bandwidth measured at the session's start."""
        if self._copy_tbs is None:
            return Ceiling(None, "the copy bandwidth was not measured")
        return Ceiling(self._copy_tbs)


def _need(module: str, extra: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise ImportError(f"this workload needs {module}: pip install 'waitbench[{extra}]'") from None


class TorchWorkload(Workload):
    """A user's torch callable: ``fn()`` enqueues ``work_per_call`` flop (or bytes) on the current stream."""

    def __init__(self, fn: Callable[[], Any], work_per_call: float, unit: str = "TFLOP/s", name: str = "torch") -> None:
        self.fn, self.work_per_launch, self.unit, self.name = fn, float(work_per_call), unit, name

    def setup(self, gpu: int, stream_handle: int) -> None:
        """Bind the callable to waitbench's stream through torch."""
        super().setup(gpu, stream_handle)
        self._torch = _need("torch", "torch")
        self._stream = self._torch.cuda.ExternalStream(stream_handle, device=gpu)

    def enqueue(self, launches: int) -> None:
        """Call the function ``launches`` times on the bound stream."""
        with self._torch.cuda.stream(self._stream):
            for _ in range(launches):
                self.fn()


class GemmWorkload(TorchWorkload):
    """bf16 tensor-core matrix product through torch (cuBLAS), n x n x n, 2 n^3 flop a launch."""

    def __init__(self, n: int = 8192) -> None:
        if not 256 <= n <= 32768:
            raise invalid("n", n, "an int in [256, 32768]")
        self.n = n
        super().__init__(self._matmul, 2.0 * n**3, "TFLOP/s", "gemm")

    def setup(self, gpu: int, stream_handle: int) -> None:
        """Make the random bf16 matrices on ``gpu`` and profile the GEMM kernel's launch shape once."""
        super().setup(gpu, stream_handle)
        t = self._torch
        dev = t.device("cuda", gpu)
        gen = t.Generator(device=dev).manual_seed(0)
        with t.cuda.stream(self._stream):  # random data: zeros run faster than real data
            self.a = t.randn(self.n, self.n, device=dev, dtype=t.bfloat16, generator=gen)
            self.b = t.randn(self.n, self.n, device=dev, dtype=t.bfloat16, generator=gen)
            self.c = t.empty(self.n, self.n, device=dev, dtype=t.bfloat16)

        self._shape = _kernel_launch_shape(self._torch, self._stream, self._matmul)

    def _matmul(self) -> None:
        self._torch.matmul(self.a, self.b, out=self.c)

    def victim_shape(self) -> dict[str, Any] | None:
        """The launch shape of the GEMM's longest kernel, profiled at setup."""
        return self._shape


def _kernel_launch_shape(torch: Any, stream: Any, fn: Callable[[], Any]) -> dict[str, Any] | None:
    """Launch shape of the longest kernel ``fn`` runs, or None where the profiler gives no kernel.

    CUPTI through torch's profiler: grid and block sizes, registers per thread, shared memory per block.
    Profiled once, at setup, before anything is timed.
    """
    from .kernel_profile import profiled_kernels

    with torch.cuda.stream(stream):
        fn()  # warm-up: the first call may pick a different kernel (heuristics, autotuning)
        kernels = profiled_kernels(torch, fn)
    if not kernels:
        return None
    k = max(kernels, key=lambda e: e["dur_us"] or 0)
    return {"grid": k["grid"], "block": k["block"], "regs": k["regs"], "smem": k["smem"], "kernel": k["kernel"]}


class CupyWorkload(Workload):
    """A cupy ``RawKernel`` launched as ``kernel(grid, block, args)``; ``work_per_launch`` in flop or bytes."""

    def __init__(self, kernel: Any, grid: tuple[int, ...], block: tuple[int, ...], args: tuple[Any, ...],
                 work_per_launch: float, unit: str = "TFLOP/s", name: str = "cupy") -> None:
        self.kernel, self.grid, self.block, self.args = kernel, grid, block, args
        self.work_per_launch, self.unit, self.name = float(work_per_launch), unit, name

    def setup(self, gpu: int, stream_handle: int) -> None:
        """Bind the kernel to waitbench's stream through cupy."""
        super().setup(gpu, stream_handle)
        self._stream = _need("cupy", "cupy").cuda.ExternalStream(stream_handle)

    def enqueue(self, launches: int) -> None:
        """Launch the kernel ``launches`` times on the bound stream."""
        with self._stream:
            for _ in range(launches):
                self.kernel(self.grid, self.block, self.args)


class NumbaWorkload(Workload):
    """A ``numba.cuda.jit`` kernel launched as ``kernel[grid, block, stream](*args)``."""

    def __init__(self, kernel: Any, grid: int | tuple[int, ...], block: int | tuple[int, ...], args: tuple[Any, ...],
                 work_per_launch: float, unit: str = "TFLOP/s", name: str = "numba") -> None:
        self.kernel, self.grid, self.block, self.args = kernel, grid, block, args
        self.work_per_launch, self.unit, self.name = float(work_per_launch), unit, name

    def setup(self, gpu: int, stream_handle: int) -> None:
        """Bind the kernel to waitbench's stream through numba."""
        super().setup(gpu, stream_handle)
        cuda = _need("numba.cuda", "numba")
        self._stream = cuda.external_stream(stream_handle)

    def enqueue(self, launches: int) -> None:
        """Launch the kernel ``launches`` times on the bound stream."""
        for _ in range(launches):
            self.kernel[self.grid, self.block, self._stream](*self.args)


BUILTIN = ("gemm", "fma", "stream")


BY_NAME: dict[str, Callable[[], Workload]] = {"gemm": GemmWorkload, "fma": FmaWorkload, "stream": StreamWorkload}


def make(workload: str | Workload) -> Workload:
    """A workload from its name ('gemm', 'fma', 'stream', 'memcpy') or a Workload instance."""
    if isinstance(workload, Workload):
        return workload
    if workload in BY_NAME:
        return BY_NAME[workload]()
    return BuiltinWorkload(workload)


@dataclass(frozen=True)
class Timed:
    """One timed run: host time from enqueue to completion seen, or not completed in time."""

    elapsed_s: float
    completed: bool
    launches: int


@dataclass(frozen=True)
class Throughput:
    """One timed run of a workload: its throughput, or why there is none (``value`` None, ``reason``).

    A stall (the run did not finish within its timeout) has no value, ``stalled`` True, the reason,
    and ``stall_ms``, how long it was held up before it was given up on. The wall-clock stamps
    (``time.time_ns``) let runs be set against events of other processes (``waitbench nccl``).
    """

    workload: str
    value: float | None  # in unit
    unit: str | None
    stalled: bool = False
    reason: str | None = None
    started_ns: int = 0  # time.time_ns() when the enqueue began
    finished_ns: int = 0  # time.time_ns() when the run returned
    stall_ms: float | None = None
    elapsed_s: float | None = None  # enqueue -> completion seen (or the timeout, for a stall)


class TimedWorkload:
    """A workload bound to its own stream on one GPU, timed from enqueue."""

    def __init__(self, workload: str | Workload, gpu: int = 0) -> None:
        self.native = require_gpu(gpu)
        self.gpu = gpu
        self.workload = make(workload)
        self.stream = self.native.Stream(gpu)
        self.workload.setup(gpu, self.stream.handle)
        self.launches = 1

    def run(self, launches: int | None = None, timeout_s: float = 60.0) -> Timed:
        """Enqueue and time ``launches`` launches; completed=False if not done within timeout_s."""
        n = launches or self.launches
        t0 = host().now_ns()
        self.workload.enqueue(n)
        done = self.native.wait_stream_idle(self.stream.handle, self.gpu, timeout_s)
        return Timed((done - t0) / 1e9 if done else timeout_s, bool(done), n)

    def finish(self, timeout_s: float = 60.0) -> bool:
        """Wait for queued work (after a stall); False if it is still not done."""
        return bool(self.native.wait_stream_idle(self.stream.handle, self.gpu, timeout_s))

    def calibrate(self, target_s: float, max_launches: int = 256, timeout_s: float = 60.0) -> bool:
        """Warm up, then choose launches per run so that one run takes about ``target_s``.

        False (a stall) if a single launch does not finish within ``timeout_s``.
        """
        for _ in range(2):  # the first run warms up (module load, clocks); the second is timed
            t = self.run(1, timeout_s=timeout_s)
            if not t.completed:
                return False
        self.launches = max(1, min(max_launches, round(target_s / max(t.elapsed_s, 1e-6))))
        return True

    def throughput(self, t: Timed) -> float:
        """The run's throughput in the workload's unit (TFLOP/s or TB/s)."""
        return self.workload.work_per_launch * t.launches / t.elapsed_s / 1e12

    def measured(self, timeout_s: float = 60.0) -> Throughput:
        """One calibrated run as a :class:`Throughput`.

        A run not done within ``timeout_s`` of its enqueue is a stall, its launches left queued
        (:meth:`finish` waits for them).
        """
        name, unit = self.workload.name, str(self.workload.unit)
        start = time.time_ns()
        t = self.run(timeout_s=timeout_s)
        if not t.completed:
            stall_ms = float(t.elapsed_s) * 1e3
            return Throughput(name, None, unit, True, f"the {name} workload did not finish within {stall_ms:.0f} ms "
                              "of its enqueue (stalled)", start, time.time_ns(), stall_ms, t.elapsed_s)
        return Throughput(name, float(self.throughput(t)), unit, False, None, start, time.time_ns(),
                          elapsed_s=t.elapsed_s)

    def held_clock_mhz(self) -> float | None:
        """SM clock held during the last completed run, where the workload measures it (fma)."""
        return self.workload.held_clock_mhz()


def run_timed(name: str | Workload, *, gpu: int = 0, seconds: float = 0.2,
              timeout_s: float | None = None) -> Throughput:
    """Throughput of one workload run of about ``seconds``, timed from enqueue.

    A run not finished within ``timeout_s`` (default: 10x ``seconds``, at least 5 s) is a stall:
    ``stalled=True``, no value and the reason, and the call waits for the queued work before returning.
    """
    limit = timeout_s if timeout_s is not None else max(10 * seconds, 5.0)
    r = TimedWorkload(name, gpu)
    if not r.calibrate(seconds, timeout_s=limit):
        r.finish()
        return Throughput(r.workload.name, None, r.workload.unit, True,
                          f"one launch of the {r.workload.name} workload did not finish within {limit:g} s (stalled)",
                          stall_ms=limit * 1e3, elapsed_s=limit)
    out = r.measured(limit)
    if out.stalled:
        r.finish()
    return out
