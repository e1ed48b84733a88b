# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the profiler tests: the built plugin, loaded by the fake NCCL host, recording into a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.fake_nccl_host import FakeComm, FakeNcclHost
from waitbench.errors import WaitbenchError
from waitbench.profiler.library import plugin_path


@pytest.fixture(scope="session")
def library() -> str:
    try:
        return str(plugin_path())
    except WaitbenchError as exc:
        pytest.skip(str(exc))


class TrackedHost(FakeNcclHost):
    """The fake host, remembering its communicators so the test's end finalizes any it left (the plugin's
    globals live as long as the process, and its ring closes only when its last communicator is finalized).
    """

    def __init__(self, library: str, abi: int = 6) -> None:
        super().__init__(library, abi)
        self.comms: list[FakeComm] = []

    def init(self, *args: object, **kwargs: object) -> FakeComm:
        comm = super().init(*args, **kwargs)
        self.comms.append(comm)
        original = comm.finalize

        def finalize() -> None:
            self.comms.remove(comm)
            original()

        comm.finalize = finalize  # type: ignore[method-assign]
        return comm


@pytest.fixture
def ring_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WAITBENCH_PROFILER_DIR", str(tmp_path))
    monkeypatch.setenv("WAITBENCH_PROFILER_JOB", "test")
    for name in ("WAITBENCH_PROFILER_ENTRIES", "WAITBENCH_PROFILER_MASK"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def make_host(library: str, ring_dir: Path) -> Iterator[type]:
    hosts: list[TrackedHost] = []

    def make(abi: int = 6) -> TrackedHost:
        hosts.append(TrackedHost(library, abi))
        return hosts[-1]

    yield make
    for h in hosts:
        for comm in list(h.comms):
            comm.finalize()
