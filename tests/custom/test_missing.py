# SPDX-License-Identifier: Apache-2.0
"""A missing optional package (cupy, numba) is one clear line naming waitbench's extra (CPU).

The packages are hidden by setting their sys.modules entry to None, which makes Python's import
fail exactly as it does when they are not installed.
"""

from __future__ import annotations

import importlib
import sys

import pytest

from waitbench.custom import CudaSource, MissingPackage, kernels, register_strategy
from waitbench.errors import WaitbenchError


@pytest.fixture
def no_gpu_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("cupy", "numba", "numba.cuda", "waitbench.custom.numba_ops"):
        monkeypatch.setitem(sys.modules, name, None)
    kernels._built.cache_clear()
    kernels._compiled.cache_clear()
    yield
    kernels._built.cache_clear()
    kernels._compiled.cache_clear()


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text
    return text


@pytest.mark.usefixtures("no_gpu_packages")
def test_nvrtc_source_without_cupy_names_the_cupy_extra() -> None:
    with pytest.raises(MissingPackage) as exc:
        kernels.resolve_kernel(CudaSource("", "k"), "my-src")
    assert one_line(exc.value) == ("strategy 'my-src' (CUDA C++ compiled by NVRTC through cupy) needs cupy, which is "
                                   "not installed: pip install 'waitbench[cupy]'")


@pytest.mark.usefixtures("no_gpu_packages")
def test_a_kernel_factory_that_imports_numba_names_the_numba_extra() -> None:
    def build():
        from numba import cuda  # noqa: F401

    register_strategy("numba-thing", build)
    with pytest.raises(MissingPackage) as exc:
        kernels.resolve_kernel(build, "numba-thing")
    assert one_line(exc.value) == ("strategy 'numba-thing' needs numba, which is not installed: "
                                   "pip install 'waitbench[numba]'")


@pytest.mark.usefixtures("no_gpu_packages")
def test_the_numba_helpers_say_which_extra_they_need() -> None:
    sys.modules.pop("waitbench.custom.numba_ops")  # the fixture's None entry: import it for real now
    with pytest.raises(MissingPackage, match=r"needs numba, which is not installed: pip install 'waitbench\[numba\]'"):
        importlib.import_module("waitbench.custom.numba_ops")


def test_missing_package_is_both_an_importerror_and_a_waitbencherror() -> None:
    exc = kernels.missing("cupy_backends.cuda", "x")
    assert isinstance(exc, ImportError) and isinstance(exc, WaitbenchError)  # the CLI prints it as one line
    assert "pip install 'waitbench[cupy]'" in str(exc)
    assert "install the package that provides 'scipy'" in str(kernels.missing("scipy.linalg", "x"))
