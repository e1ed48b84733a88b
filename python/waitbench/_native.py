# SPDX-License-Identifier: Apache-2.0
"""Access to the compiled core (``waitbench._C``) and the one place CUDA availability is decided.

The extension imports on any machine (it links no driver library); its first CUDA call on a machine
without a GPU fails, and :func:`require_gpu` turns that into one clear :class:`NoGpuError`.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType

from .errors import NoGpuError


@cache
def native() -> ModuleType:
    """The compiled module; ImportError with the rebuild command if the package was not built."""
    try:
        from . import _C
    except ImportError as exc:  # a source checkout without a build
        raise ImportError(f"waitbench's native core is missing ({exc}); install the package: pip install .") from exc
    return _C


def gpu_unavailable_reason() -> str | None:
    """None if a CUDA GPU is usable, else a one-line reason (no device, no driver, old driver)."""
    try:
        n = native().device_count()
    except NoGpuError as exc:
        return str(exc)
    return None if n > 0 else "no CUDA GPU found"


def require_gpu(index: int = 0) -> ModuleType:
    """The native module, after checking that GPU ``index`` exists (NoGpuError / ValueError)."""
    mod = native()
    n = mod.device_count()
    if not 0 <= index < n:
        raise ValueError(f"gpu={index!r} is invalid: expected a CUDA device index in [0, {n - 1}]")
    return mod
