# SPDX-License-Identifier: Apache-2.0
"""Research strategies: bring your own wait and measure it as the built-ins are measured.

Write it with cupy, numba, CUDA C++ compiled by NVRTC, or Python on the host; the same runner,
metrics and reports measure it.

See docs/PROTOCOL.md for the contract a waiter follows and benchmarks/examples/ for worked examples.
Nothing here imports cupy or numba until a strategy that needs them is used.
"""

from __future__ import annotations

from ..strategies import Option
from .guard import WaiterOverdue, WaiterStuck
from .host import HostWaitContext
from .kernels import CudaSource, MissingPackage
from .protocol import cuda_prelude
from .registry import CustomStrategy, Launch, register_strategy, unregister_strategy

__all__ = ["CudaSource", "CustomStrategy", "HostWaitContext", "Launch", "MissingPackage", "Option", "WaiterOverdue",
           "WaiterStuck", "cuda_prelude", "register_strategy", "unregister_strategy"]
