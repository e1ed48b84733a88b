# SPDX-License-Identifier: Apache-2.0
"""Launching a research strategy's kernel on the stream the core gives it at each arm.

Three kinds of kernel, one calling convention (docs/PROTOCOL.md): cupy ``RawKernel`` (and CUDA C++
source compiled at run time by NVRTC through ``cupy.RawModule``) and ``numba.cuda.jit`` kernels.
cupy and numba are optional: they are imported only here, when a strategy first needs them, and
their absence is one line naming the extra to install.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from ..errors import WaitbenchError, invalid
from .protocol import SLOT_BYTES, cuda_prelude

DEFAULT_SMEM_LIMIT = 48 * 1024  # dynamic shared memory a kernel gets without opting in
EXTRAS = {"cupy": "cupy", "cupyx": "cupy", "cupy_backends": "cupy", "numba": "numba", "numba_cuda": "numba",
          "llvmlite": "numba", "torch": "torch"}


class MissingPackage(WaitbenchError, ImportError):
    """An optional package a research strategy needs is not installed (the message names the extra)."""


def missing(module: str | None, what: str) -> MissingPackage:
    """The one-line error for a missing optional package, naming waitbench's extra that installs it."""
    top = (module or "?").split(".")[0]
    extra = EXTRAS.get(top)
    how = f"pip install 'waitbench[{extra}]'" if extra else f"install the package that provides {top!r}"
    return MissingPackage(f"{what} needs {top}, which is not installed: {how}")


def need(module: str, what: str) -> Any:
    """Import ``module`` (e.g. 'cupy', 'numba.cuda') or raise :class:`MissingPackage`."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise missing(exc.name or module, what) from None


@dataclass(frozen=True)
class CudaSource:
    """CUDA C++ source of a waiter kernel, compiled at run time by NVRTC (through ``cupy.RawModule``).

    waitbench prepends :func:`waitbench.custom.protocol.cuda_prelude` (``wb::BlockSlot`` and the
    protocol helpers), so the source only defines ``extern "C" __global__ void <name>(...)``.
    """

    code: str
    name: str
    options: tuple[str, ...] = ()


def kernel_kind(kernel: Any) -> str:
    """'cupy', 'numba', 'source' or 'factory' (a function returning one); ValueError for anything else."""
    if isinstance(kernel, CudaSource):
        return "source"
    module = type(kernel).__module__.split(".")[0]
    if module == "cupy" and type(kernel).__name__ == "RawKernel":
        return "cupy"
    if module in ("numba", "numba_cuda") and hasattr(kernel, "py_func"):
        return "numba"
    if inspect.isfunction(kernel):
        return "factory"
    raise invalid("kernel", kernel, "a cupy RawKernel, a numba.cuda.jit kernel, a waitbench.custom.CudaSource, or a "
                  "function returning one")


@cache
def _built(factory: Callable[[], Any], strategy: str) -> Any:
    try:
        kernel = factory()
    except ImportError as exc:
        raise missing(exc.name, f"strategy {strategy!r}") from None
    if kernel_kind(kernel) == "factory":
        raise invalid("kernel", kernel, f"a kernel from the factory of {strategy!r}, not another function")
    return kernel


@cache
def _compiled(source: CudaSource, strategy: str) -> Any:
    cupy = need("cupy", f"strategy {strategy!r} (CUDA C++ compiled by NVRTC through cupy)")
    module = cupy.RawModule(code=cuda_prelude() + source.code, options=("--std=c++17", *source.options))
    return module.get_function(source.name)


def resolve_kernel(kernel: Any, strategy: str) -> tuple[str, Any]:
    """The launchable kernel and its kind ('cupy' or 'numba'), building or compiling it if needed."""
    kind = kernel_kind(kernel)
    if kind == "factory":
        kernel = _built(kernel, strategy)
        kind = kernel_kind(kernel)
    if kind == "source":
        return "cupy", _compiled(kernel, strategy)
    return kind, kernel


def option_args(options: tuple[Any, ...], opts: Mapping[str, Any]) -> tuple[Any, ...]:
    """The declared options as kernel arguments: float -> double, int/bool -> long long, str -> its index."""
    out: list[Any] = []
    for o in options:
        v = opts[o.name]
        out.append(np.float64(v) if o.type is float else np.int64(o.choices.index(v) if o.type is str else int(v)))
    return tuple(out)


class _StreamRef:
    """A stream handle in the CUDA stream protocol (what ``cupy.cuda.Stream.from_external`` takes)."""

    def __init__(self, handle: int) -> None:
        self.handle = handle

    def __cuda_stream__(self) -> tuple[int, int]:
        return (0, self.handle)


class BoundKernel:
    """A kernel bound to one waiter: its launch shape, options and device.

    ``launch(words)`` is the launcher the core calls at each arm; ``regs_per_thread`` and
    ``static_smem_bytes`` go to records.
    """

    def __init__(self, kernel: Any, strategy: str, options: tuple[Any, ...], opts: Mapping[str, Any],
                 shape: dict[str, int], gpu: int) -> None:
        self.kind, self.kernel = resolve_kernel(kernel, strategy)
        self.strategy, self.shape, self.gpu = strategy, shape, gpu
        self.extra = option_args(options, opts)
        self.types = tuple("float64" if o.type is float else "int64" for o in options)
        self._streams: dict[int, Any] = {}
        self._views: dict[tuple[int, ...], tuple[Any, ...]] = {}
        self.regs_per_thread, self.static_smem_bytes, max_threads = (
            self._prepare_cupy() if self.kind == "cupy" else self._prepare_numba())
        if shape["threads"] > max_threads:
            raise invalid("threads", shape["threads"], f"at most {max_threads}: the most a block of {strategy!r}'s "
                          "kernel can have on this GPU with its registers")

    # -- cupy ---------------------------------------------------------------------------------
    def _prepare_cupy(self) -> tuple[int, int, int]:
        self.cupy = need("cupy", f"strategy {self.strategy!r} (a cupy kernel)")
        with self.cupy.cuda.Device(self.gpu):
            if self.shape["smem_bytes"] > DEFAULT_SMEM_LIMIT:
                self.kernel.max_dynamic_shared_size_bytes = self.shape["smem_bytes"]
            attrs = self.kernel.attributes  # compiles for this device now, not inside the first arm
        return attrs["num_regs"], attrs["shared_size_bytes"], attrs["max_threads_per_block"]

    def _launch_cupy(self, w: Mapping[str, int]) -> None:
        cp = self.cupy
        args = (np.uint64(w["flag_addr"]), np.uint64(w["abort_addr"]), np.uint64(w["slots_addr"]),
                np.uint64(w["timeout_ns"]), np.uint32(w["gen"]), *self.extra)
        with cp.cuda.Device(self.gpu):
            stream = self._streams.get(w["stream"])
            if stream is None:
                from_external = getattr(cp.cuda.Stream, "from_external", None)  # cupy >= 14
                stream = (from_external(_StreamRef(w["stream"])) if from_external
                          else cp.cuda.ExternalStream(w["stream"], self.gpu))
                self._streams[w["stream"]] = stream
            with stream:
                self.kernel((w["blocks"],), (self.shape["threads"],), args, shared_mem=self.shape["smem_bytes"])

    # -- numba --------------------------------------------------------------------------------
    def _prepare_numba(self) -> tuple[int, int, int]:
        self.cuda = need("numba.cuda", f"strategy {self.strategy!r} (a numba.cuda kernel)")
        if self.shape["smem_bytes"] > DEFAULT_SMEM_LIMIT:
            raise invalid("smem_bytes", self.shape["smem_bytes"], f"at most {DEFAULT_SMEM_LIMIT} for a numba kernel")
        sig = "void(uint32[::1], uint32[::1], uint32[::1], uint64[::1], uint64, uint32" + \
              "".join(", " + t for t in self.types) + ")"
        with self.cuda.gpus[self.gpu]:
            try:
                compiled = self.kernel.compile(sig)  # compile now, not inside the first arm
            except AttributeError as exc:
                if "row_stack" not in str(exc):
                    raise
                raise WaitbenchError(
                    f"numba-cuda cannot compile {self.strategy!r} with NumPy {np.__version__}: it still refers to "
                    "np.row_stack, which this NumPy removed; use NumPy < 2.5, a numba-cuda that no longer needs it, "
                    "or alias np.row_stack = np.vstack before importing numba.cuda "
                    "(benchmarks/examples/backoff_numba.py shows how)") from None
            return compiled.regs_per_thread, compiled.shared_mem_per_block, compiled.max_threads_per_block

    def _array(self, addr: int, words: int, typestr: str) -> Any:
        desc = {"shape": (words,), "typestr": typestr, "data": (addr, False), "version": 3, "strides": None}
        return self.cuda.from_cuda_array_interface(desc, owner=None, sync=False)

    def _launch_numba(self, w: Mapping[str, int]) -> None:
        cuda = self.cuda
        key = (w["flag_addr"], w["abort_addr"], w["slots_addr"], w["blocks"])
        with cuda.gpus[self.gpu]:
            views = self._views.get(key)
            if views is None:
                n = w["blocks"] * SLOT_BYTES
                views = (self._array(w["flag_addr"], 1, "<u4"), self._array(w["abort_addr"], 1, "<u4"),
                         self._array(w["slots_addr"], n // 4, "<u4"), self._array(w["slots_addr"], n // 8, "<u8"))
                self._views[key] = views
            configured = self._streams.get(w["stream"])
            if configured is None:
                with warnings.catch_warnings():  # numba warns of grids under 128 blocks: a waiter's are small
                    warnings.simplefilter("ignore")
                    configured = self.kernel[w["blocks"], self.shape["threads"], cuda.external_stream(w["stream"]),
                                             self.shape["smem_bytes"]]
                self._streams[w["stream"]] = configured
            configured(*views, np.uint64(w["timeout_ns"]), np.uint32(w["gen"]), *self.extra)

    def launch(self, words: Mapping[str, int]) -> None:
        """Launch the kernel for one arm (called by the core with the protocol words)."""
        (self._launch_cupy if self.kind == "cupy" else self._launch_numba)(words)
