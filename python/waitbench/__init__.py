# SPDX-License-Identifier: Apache-2.0
"""waitbench: what a GPU that reads 100% busy while it waits really costs, and what to do instead.

Importing needs no GPU: the native core is loaded on first use, and every GPU call made without a
usable GPU raises :class:`waitbench.errors.NoGpuError` with a one-line reason.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ._version import __version__
from .errors import BarrierBroken, NoGpuError, NvmlError, ResultsError, WaitbenchError, WaitExpired

# Public names served lazily from their modules: `import waitbench` stays light and GPU-free, and the
# command's entry (waitbench/__main__.py) sets its Ctrl-C handling before anything heavy loads.
_LAZY = {
    "SCHEMA_VERSION": "results",
    "load": "results",
    "load_records": "results",
    "strategies": "strategies",
    "Waiter": "waiter",
    "WaitOutcome": "waiter",
    "wake_latency": "wake",
    "measure": "runner",
    "Monitor": "monitor",
    "register_strategy": "custom",
    "HostBarrier": "barrier",
}

__all__ = ["__version__", "strategies", "load", "load_records", "SCHEMA_VERSION", "NoGpuError", "NvmlError",
           "ResultsError", "WaitbenchError", "WaitExpired", "BarrierBroken", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'waitbench' has no attribute {name!r}")
