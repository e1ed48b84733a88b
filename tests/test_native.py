# SPDX-License-Identifier: Apache-2.0
"""The compiled core, both modules: build metadata, protocol constants, the type stubs, and the no-GPU
error path, which is real wherever these tests run without a GPU (CI). The host module is in every
install; tests of the CUDA module are marked ``cuda_build`` (skipped on a host-only install, where
tests/test_native_host_only.py checks what a user sees instead).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from waitbench._native import cuda_missing_reason, gpu_unavailable_reason, host, native
from waitbench.errors import NoGpuError

NO_GPU = gpu_unavailable_reason() is not None
# The two modules, each with its stub; the CUDA one only where this install has it.
MODULES = [pytest.param(host, id="_host"), pytest.param(native, id="_C", marks=pytest.mark.cuda_build)]


@pytest.mark.parametrize("load", MODULES)
def test_each_module_lives_inside_the_package(load: object) -> None:
    mod = load()
    assert mod.__name__.rsplit(".", 1) == ["waitbench", mod.__name__.rsplit(".", 1)[1]]
    assert Path(mod.__file__).parent.name == "waitbench"


@pytest.mark.parametrize("load", MODULES)
def test_no_module_links_libcuda_nvml_or_a_shared_cuda_runtime(load: object) -> None:
    out = subprocess.run(["ldd", load().__file__], capture_output=True, text=True, check=True).stdout
    assert "libcuda.so" not in out and "libnvidia-ml" not in out and "libcudart" not in out


def test_the_host_module_needs_no_cuda_library_at_all() -> None:
    """It is the part of the build a machine with only a C++ compiler gets: nothing of CUDA in it."""
    out = subprocess.run(["ldd", host().__file__], capture_output=True, text=True, check=True).stdout
    assert "cuda" not in out.lower()
    symbols = subprocess.run(["nm", "-D", "--undefined-only", host().__file__], capture_output=True, text=True,
                             check=False).stdout
    assert "cuda" not in symbols.lower()


@pytest.mark.cuda_build
def test_protocol_constants_come_from_the_native_header() -> None:
    mod = native()
    assert (mod.OUTCOME_PENDING, mod.OUTCOME_RELEASED, mod.OUTCOME_EXPIRED, mod.OUTCOME_ABORTED) == (0, 1, 2, 3)
    assert mod.BLOCK_SLOT_BYTES == 64 and mod.CONTROL_WORDS_BYTES == 64
    assert list(mod.REGISTER_VARIANTS) == [32, 64, 96, 128]


@pytest.mark.cuda_build
def test_the_build_says_its_cuda_version_and_asks_the_driver_for_its_own() -> None:
    mod = native()
    assert mod.CUDA_VERSION >= 12000 and mod.CUDA_VERSION % 10 == 0
    assert mod.driver_cuda_version() >= 0  # 0 where no driver is loaded (CI); never raises


@pytest.mark.gpu
def test_on_a_usable_gpu_the_driver_runs_the_build_s_cuda_major_and_the_runtime_is_the_one_linked_in() -> None:
    mod = native()
    assert mod.driver_cuda_version() // 1000 >= mod.CUDA_VERSION // 1000  # minor-version compatibility within a major
    assert mod.device_info(0)["runtime_version"] == mod.CUDA_VERSION  # the static runtime: no other can be loaded


@pytest.mark.cuda_build
def test_register_option_choices_match_the_compiled_variants() -> None:
    import importlib

    st = importlib.import_module("waitbench.strategies")
    assert st.get("spin").option("registers").choices == tuple(native().REGISTER_VARIANTS)


def test_host_clock_is_monotonic() -> None:
    a = host().now_ns()
    b = host().now_ns()
    assert 0 < a <= b


@pytest.mark.skipif(not NO_GPU, reason="a GPU is present: the no-GPU path cannot be exercised here")
def test_without_a_gpu_every_gpu_call_raises_one_clear_nogpuerror() -> None:
    import waitbench

    for call in (lambda: native().device_count(), lambda: waitbench.Waiter("spin"),
                 lambda: waitbench.wake_latency("host-block", trials=1)):
        with pytest.raises(NoGpuError) as exc:
            call()
        text = str(exc.value)
        assert "\n" not in text
        assert text.startswith("no usable CUDA GPU") or text == cuda_missing_reason()


@pytest.mark.skipif(not NO_GPU, reason="a GPU is present")
def test_bad_options_are_reported_before_the_missing_gpu() -> None:
    import waitbench

    with pytest.raises(ValueError, match="threads=33 is invalid"):
        waitbench.Waiter("spin", threads=33)


def _public(names: object) -> set[str]:
    return {n for n in names if not n.startswith("_")}


def _check_stub(mod: ModuleType) -> None:
    package = Path(sys.modules["waitbench"].__file__).parent  # beside the module, or the source of an editable install
    stub = ast.parse((package / (mod.__name__.rsplit(".", 1)[1] + ".pyi")).read_text())
    top = {n.name: n for n in stub.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    constants = {n.target.id for n in stub.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    assert _public(top) | constants == _public(dir(mod))
    base = {n.name for n in top["_Enum"].body if isinstance(n, ast.FunctionDef)} if "_Enum" in top else set()
    for name in _public(top):
        node = top[name]
        if not isinstance(node, ast.ClassDef):
            continue
        members = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        members |= {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
        if any(isinstance(b, ast.Name) and b.id == "_Enum" for b in node.bases):
            members |= base
        assert _public(members) == _public(dir(getattr(mod, name))), name


@pytest.mark.parametrize("load", MODULES)
def test_each_type_stub_ships_beside_its_module_and_names_exactly_what_it_exports(load: object) -> None:
    _check_stub(load())


def test_every_native_exception_maps_onto_a_waitbench_error() -> None:
    """csrc/bind_errors.cpp raises waitbench.errors classes by name: each must exist and be a WaitbenchError;
    both modules install it.
    """
    import re

    import waitbench.errors as errors

    csrc = Path(__file__).resolve().parents[1] / "csrc"
    for module in ("module.cpp", "host_module.cpp"):
        assert "register_errors();" in (csrc / module).read_text(), module
    names = re.findall(r'raise_as\("(\w+)"', (csrc / "bind_errors.cpp").read_text())
    assert names == ["NoGpuError", "CudaError", "WaitExpired", "WaitbenchError"]
    assert all(issubclass(getattr(errors, n), errors.WaitbenchError) for n in names)


@pytest.mark.parametrize("module", ["waitbench._host", pytest.param("waitbench._C", marks=pytest.mark.cuda_build)])
def test_import_needs_no_gpu_and_touches_no_cuda(module: str) -> None:
    code = f"import waitbench, {module}; print(waitbench.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == __import__("waitbench").__version__
