# SPDX-License-Identifier: Apache-2.0
"""Skips GPU tests, with the reason, where no usable CUDA GPU is present (CI), multi-GPU tests
where fewer than two are, and tests of the CUDA module (marked ``cuda_build``) on an install built
without one (a machine with no CUDA compiler); puts tests/ on the path once, so every test imports the shared helpers
the same way: ``from helpers.fake_nvml import FakeNvml``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = str(Path(__file__).resolve().parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)


def _gpu_count() -> tuple[int, str | None]:
    try:
        from waitbench._native import native
        from waitbench.errors import NoGpuError

        try:
            return native().device_count(), None
        except NoGpuError as exc:
            return 0, str(exc)
    except ImportError as exc:
        return 0, f"waitbench's native core is not built ({exc})"


def _cuda_missing() -> str | None:
    try:
        from waitbench._native import cuda_missing_reason

        return cuda_missing_reason()
    except ImportError as exc:
        return f"waitbench's native core is not built ({exc})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    count, reason = _gpu_count()
    no_cuda = _cuda_missing()
    skip_cuda = pytest.mark.skip(reason=f"needs waitbench's CUDA module: {no_cuda}")
    skip_gpu = pytest.mark.skip(reason=f"needs a CUDA GPU: {reason or 'none found'}")
    skip_multi = pytest.mark.skip(reason=f"needs two or more CUDA GPUs (found {count})")
    for item in items:
        if "cuda_build" in item.keywords and no_cuda:
            item.add_marker(skip_cuda)
        if "gpu" in item.keywords and count < 1:
            item.add_marker(skip_gpu)
        if "multigpu" in item.keywords and count < 2:
            item.add_marker(skip_multi)


# Fixtures of the NCCL profiler plugin (built, loaded by the fake NCCL host, recording into a temporary folder),
# for tests/profiler and tests/diagnose.


@pytest.fixture(scope="session")
def library() -> str:
    from waitbench.errors import WaitbenchError
    from waitbench.profiler.library import plugin_path

    try:
        return str(plugin_path())
    except WaitbenchError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def ring_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WAITBENCH_PROFILER_DIR", str(tmp_path))
    monkeypatch.setenv("WAITBENCH_PROFILER_JOB", "test")
    for name in ("WAITBENCH_PROFILER_ENTRIES", "WAITBENCH_PROFILER_MASK"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def make_host(library: str, ring_dir: Path):
    from helpers.fake_nccl_host import TrackedHost

    hosts: list[TrackedHost] = []

    def make(abi: int = 6) -> TrackedHost:
        hosts.append(TrackedHost(library, abi))
        return hosts[-1]

    yield make
    for h in hosts:
        for comm in list(h.comms):
            comm.finalize()
