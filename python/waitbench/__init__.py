# SPDX-License-Identifier: Apache-2.0
"""waitbench: what a GPU that reads 100% busy while it waits really costs, and what to do instead.

Importing needs no GPU: the native core is loaded on first use, and every GPU call made without a
usable GPU raises :class:`waitbench.errors.NoGpuError` with a one-line reason.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module

from ._version import __version__

# Public names served lazily from their modules: `import waitbench` stays light and GPU-free, and the
# command's entry (waitbench/__main__.py) sets its Ctrl-C handling before anything else of it loads.
_LAZY = {
    **dict.fromkeys(("NoGpuError", "NvmlError", "ResultsError", "WaitbenchError", "WaitExpired", "BarrierBroken"),
                    "errors"),
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

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'waitbench' has no attribute {name!r}")


class _Package(types.ModuleType):
    """This package: ``waitbench.strategies`` stays the function once the submodule of that name is loaded.

    Why: importing a submodule binds it as an attribute of its package, and a lazy name (served by
    ``__getattr__`` only while no attribute exists) would then be the module. Eagerly imported, as
    before, the function won; it still does, without the import.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return  # the submodule stays in sys.modules; the public name is the function
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
