# SPDX-License-Identifier: Apache-2.0
"""Concurrent workloads: what a waiter leaves to real work on another stream of the same GPU.

Built-ins: ``gemm`` (torch bf16 tensor-core matrix product), ``fma`` (FP32 FMA-bound kernel with a
known flop count), ``stream`` (memory-bound copy with a known byte count) and ``memcpy`` (the
device-to-device copy used as the bandwidth ceiling of ``stream``). Adapters wrap a user's torch
callable, cupy kernel or numba.cuda kernel. Every workload enqueues on a stream waitbench owns and
is timed from enqueue (host clock, then an event polled in C++), so work that a resident waiter
keeps off the SMs shows as slow or stalled, never as full speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ._native import require_gpu
from .errors import invalid

TFLOP, TB = 1e12, 1e12


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
        raise NotImplementedError

    def victim_shape(self) -> dict[str, Any] | None:
        """grid/block/regs/smem (and kernel name) of the workload's kernel where known (None: not read)."""
        return None

    def held_clock_mhz(self) -> float | None:
        """SM clock the last completed run's kernels held, measured by themselves (None: not measured)."""
        return None


class BuiltinWorkload(Workload):
    """A csrc workload (fma, stream, memcpy) sized from ``size`` (iterations or bytes)."""

    SIZES = {"fma": 4096, "stream": 512 << 20, "memcpy": 512 << 20}

    def __init__(self, name: str, size: int | None = None) -> None:
        if name not in self.SIZES:
            raise invalid("workload", name, "one of " + ", ".join(self.SIZES))
        self.name, self.size = name, size or self.SIZES[name]
        self.unit = "TFLOP/s" if name == "fma" else "TB/s"

    def setup(self, gpu: int, stream_handle: int) -> None:
        super().setup(gpu, stream_handle)
        self._w = require_gpu(gpu).Workload(self.name, gpu, self.size)
        self._info = self._w.info()
        self.work_per_launch = float(self._info["work_per_launch"])

    def enqueue(self, launches: int) -> None:
        self._w.enqueue(self.stream_handle, launches)

    def held_clock_mhz(self) -> float | None:
        """fma: clock64 cycles over %globaltimer ns summed over every block of the last run."""
        if self.name != "fma":
            return None
        mhz = float(self._w.held_clock_mhz(self.stream_handle))
        return mhz if mhz > 0 else None

    def victim_shape(self) -> dict[str, Any] | None:
        i = self._info
        if self.name == "memcpy":
            return None
        return {"grid": i["grid"], "block": i["block"], "regs": i["regs_per_thread"], "smem": i["smem_bytes"]}


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
        super().setup(gpu, stream_handle)
        self._torch = _need("torch", "torch")
        self._stream = self._torch.cuda.ExternalStream(stream_handle, device=gpu)

    def enqueue(self, launches: int) -> None:
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
        return self._shape


def _kernel_launch_shape(torch: Any, stream: Any, fn: Callable[[], Any]) -> dict[str, Any] | None:
    """Launch shape of the longest kernel ``fn`` runs (CUPTI through torch's profiler: grid and block
    sizes, registers per thread, shared memory per block). Profiled once, at setup, before anything is
    timed; None where the profiler gives no kernel."""
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
        super().setup(gpu, stream_handle)
        self._stream = _need("cupy", "cupy").cuda.ExternalStream(stream_handle)

    def enqueue(self, launches: int) -> None:
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
        super().setup(gpu, stream_handle)
        cuda = _need("numba.cuda", "numba")
        self._stream = cuda.external_stream(stream_handle)

    def enqueue(self, launches: int) -> None:
        for _ in range(launches):
            self.kernel[self.grid, self.block, self._stream](*self.args)


BUILTIN = ("gemm", "fma", "stream")


def make(workload: str | Workload) -> Workload:
    """A workload from its name ('gemm', 'fma', 'stream', 'memcpy') or a Workload instance."""
    if isinstance(workload, Workload):
        return workload
    if workload == "gemm":
        return GemmWorkload()
    return BuiltinWorkload(workload)


@dataclass(frozen=True)
class Timed:
    """One timed run: host time from enqueue to completion seen, or not completed in time."""

    elapsed_s: float
    completed: bool
    launches: int


@dataclass(frozen=True)
class Throughput:
    value: float  # in unit
    unit: str
    elapsed_s: float
    stalled: bool


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
        t0 = self.native.now_ns()
        self.workload.enqueue(n)
        done = self.native.wait_stream_idle(self.stream.handle, self.gpu, timeout_s)
        return Timed((done - t0) / 1e9 if done else timeout_s, bool(done), n)

    def finish(self, timeout_s: float = 60.0) -> bool:
        """Wait for queued work (after a stall); False if it is still not done."""
        return bool(self.native.wait_stream_idle(self.stream.handle, self.gpu, timeout_s))

    def calibrate(self, target_s: float, max_launches: int = 256, timeout_s: float = 60.0) -> bool:
        """Warm up, then choose launches per run so one run takes about ``target_s``; False (a stall)
        if a single launch does not finish within ``timeout_s``."""
        for _ in range(2):  # the first run warms up (module load, clocks); the second is timed
            t = self.run(1, timeout_s=timeout_s)
            if not t.completed:
                return False
        self.launches = max(1, min(max_launches, round(target_s / max(t.elapsed_s, 1e-6))))
        return True

    def throughput(self, t: Timed) -> float:
        return self.workload.work_per_launch * t.launches / t.elapsed_s / 1e12

    def held_clock_mhz(self) -> float | None:
        """SM clock held during the last completed run, where the workload measures it (fma)."""
        return self.workload.held_clock_mhz()


def run_timed(name: str | Workload, *, gpu: int = 0, seconds: float = 0.2,
              timeout_s: float | None = None) -> Throughput:
    """Throughput of one workload run of about ``seconds``, timed from enqueue.

    A run not finished within ``timeout_s`` (default: 10x ``seconds``, at least 5 s) is a stall:
    ``stalled=True``, value 0, and the call waits for the queued work before returning.
    """
    limit = timeout_s if timeout_s is not None else max(10 * seconds, 5.0)
    r = TimedWorkload(name, gpu)
    if not r.calibrate(seconds, timeout_s=limit):
        r.finish()
        return Throughput(0.0, r.workload.unit, limit, True)
    t = r.run(timeout_s=limit)
    if not t.completed:
        r.finish()
    return Throughput(r.throughput(t) if t.completed else 0.0, r.workload.unit, t.elapsed_s, not t.completed)
