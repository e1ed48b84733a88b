# SPDX-License-Identifier: Apache-2.0
"""The compiled core, in two modules, and the one place that decides what is present and whether a GPU is usable.

``waitbench._host`` (host clock, the cross-process barrier) is built on every install; ``waitbench._C``
(kernels, waiters, workloads) only where the build found a CUDA compiler. Both import on any machine
(neither links a driver library). Every kernel feature goes through :func:`native`, which says in one
line what is missing and the command that adds it; the NVML tools, the reports and ``HostBarrier``
never need it.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

from .errors import NoCudaBuildError, NoGpuError

# The one command that adds the CUDA module, run in the source tree it was built from (only a source
# build can lack it): the system toolkit when there is one, else CUDA's compiler and runtime from the
# package index (docs/INSTALL.md).
ADD_CUDA = "WAITBENCH_CUDA_FROM_PIP=13 pip install --force-reinstall --no-deps ."


def _load(name: str) -> tuple[ModuleType | None, str]:
    """The module ``waitbench.<name>``, or None and why it could not be imported."""
    try:
        return importlib.import_module(f"{__package__}.{name}"), ""
    except ImportError as exc:
        return None, str(exc)


@cache
def host() -> ModuleType:
    """The host-only module; ImportError with the install command if the package was not built."""
    mod, why = _load("_host")
    if mod is None:  # a source checkout without a build
        raise ImportError(f"waitbench's native host module is missing ({why}); install the package: pip install .")
    return mod


@cache
def cuda_missing_reason() -> str | None:
    """None if the CUDA module is present, else one line: what is missing and the command that adds it."""
    if _load("_C")[0] is not None:
        return None
    host()  # a tree with no build at all says so first
    return ("this waitbench was built without CUDA (no CUDA compiler was found when it was installed), so its "
            f"GPU kernels are missing; to add them, in waitbench's source tree run: {ADD_CUDA}")


def native() -> ModuleType:
    """The CUDA module; :class:`NoCudaBuildError` (a :class:`NoGpuError`) if this install has none."""
    reason = cuda_missing_reason()
    if reason is not None:
        raise NoCudaBuildError(reason)
    return importlib.import_module(f"{__package__}._C")


def build_summary() -> str:
    """One line: which native modules this install has, and the CUDA version its kernels were built with."""
    if _load("_host")[0] is None:
        return "native modules not built: pip install ."
    mod = _load("_C")[0]  # not native(): this line is for every command, the GPU-less ones included
    if mod is None:
        return "host module only, no CUDA module: see docs/INSTALL.md"
    v = int(mod.CUDA_VERSION)
    return f"host and CUDA modules, built with CUDA {v // 1000}.{v % 1000 // 10}"


def gpu_unavailable_reason() -> str | None:
    """None if a CUDA GPU is usable, else a one-line reason (no CUDA module, no device, no driver, old driver)."""
    try:
        n = native().device_count()
    except NoGpuError as exc:
        return str(exc)
    return None if n > 0 else "no CUDA GPU found"


def require_gpu(index: int = 0) -> ModuleType:
    """The CUDA module, after checking that GPU ``index`` exists (NoGpuError / ValueError)."""
    mod = native()
    n = mod.device_count()
    if not 0 <= index < n:
        raise ValueError(f"gpu={index!r} is invalid: expected a CUDA device index in [0, {n - 1}]")
    return mod
