# SPDX-License-Identifier: Apache-2.0
"""The compiled core: build metadata, protocol constants, and the no-GPU error path, which is real
wherever these tests run without a GPU (CI).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from waitbench._native import gpu_unavailable_reason, native
from waitbench.errors import NoGpuError

NO_GPU = gpu_unavailable_reason() is not None


def test_the_module_lives_inside_the_package() -> None:
    mod = native()
    assert mod.__name__ == "waitbench._C"
    assert Path(mod.__file__).parent.name == "waitbench"


def test_the_module_links_neither_libcuda_nor_nvml() -> None:
    out = subprocess.run(["ldd", native().__file__], capture_output=True, text=True, check=True).stdout
    assert "libcuda.so" not in out and "libnvidia-ml" not in out and "libcudart" not in out


def test_protocol_constants_come_from_the_native_header() -> None:
    mod = native()
    assert (mod.OUTCOME_PENDING, mod.OUTCOME_RELEASED, mod.OUTCOME_EXPIRED, mod.OUTCOME_ABORTED) == (0, 1, 2, 3)
    assert mod.BLOCK_SLOT_BYTES == 64 and mod.CONTROL_WORDS_BYTES == 64
    assert list(mod.REGISTER_VARIANTS) == [32, 64, 96, 128]


def test_register_option_choices_match_the_compiled_variants() -> None:
    import importlib

    st = importlib.import_module("waitbench.strategies")
    assert st.get("spin").option("registers").choices == tuple(native().REGISTER_VARIANTS)


def test_host_clock_is_monotonic() -> None:
    mod = native()
    a = mod.now_ns()
    b = mod.now_ns()
    assert 0 < a <= b


@pytest.mark.skipif(not NO_GPU, reason="a GPU is present: the no-GPU path cannot be exercised here")
def test_without_a_gpu_every_gpu_call_raises_one_clear_nogpuerror() -> None:
    import waitbench

    for call in (lambda: native().device_count(), lambda: waitbench.Waiter("spin"),
                 lambda: waitbench.wake_latency("host-block", trials=1)):
        with pytest.raises(NoGpuError) as exc:
            call()
        text = str(exc.value)
        assert text.startswith("no usable CUDA GPU") and "\n" not in text


@pytest.mark.skipif(not NO_GPU, reason="a GPU is present")
def test_bad_options_are_reported_before_the_missing_gpu() -> None:
    import waitbench

    with pytest.raises(ValueError, match="threads=33 is invalid"):
        waitbench.Waiter("spin", threads=33)


def _public(names: object) -> set[str]:
    return {n for n in names if not n.startswith("_")}


def test_the_type_stub_ships_beside_the_module_and_names_exactly_what_it_exports() -> None:
    import ast

    mod = native()
    stub = ast.parse(Path(mod.__file__).with_name("_C.pyi").read_text())
    top = {n.name: n for n in stub.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    constants = {n.target.id for n in stub.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    assert _public(top) | constants == _public(dir(mod))
    base = {n.name for n in top["_Enum"].body if isinstance(n, ast.FunctionDef)}
    for name in _public(top):
        node = top[name]
        if not isinstance(node, ast.ClassDef):
            continue
        members = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        members |= {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
        if any(isinstance(b, ast.Name) and b.id == "_Enum" for b in node.bases):
            members |= base
        assert _public(members) == _public(dir(getattr(mod, name))), name


def test_every_native_exception_maps_onto_a_waitbench_error() -> None:
    """csrc/module.cpp raises waitbench.errors classes by name: each must exist and be a WaitbenchError."""
    import re

    import waitbench.errors as errors

    source = (Path(__file__).resolve().parents[1] / "csrc" / "module.cpp").read_text()
    names = re.findall(r'raise_as\("(\w+)"', source)
    assert names == ["NoGpuError", "CudaError", "WaitExpired", "WaitbenchError"]
    assert all(issubclass(getattr(errors, n), errors.WaitbenchError) for n in names)


def test_import_needs_no_gpu_and_touches_no_cuda() -> None:
    code = "import waitbench, waitbench._C; print(waitbench.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == __import__("waitbench").__version__
