# SPDX-License-Identifier: Apache-2.0
"""An install without the CUDA module (built on a machine with no CUDA compiler): every kernel feature
fails before doing anything, in one line naming what is missing and the command that adds it; the host
parts (HostBarrier, the reports, the version line) work. Each case runs in a child process with
``waitbench._C`` made unimportable, as it is on such an install, so the CUDA build's CI checks this
path too (the host-only build's CI runs the same file on the real thing).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import pytest

from waitbench._native import ADD_CUDA

HIDE_CUDA = "import sys; sys.modules['waitbench._C'] = None\n"  # what an install without the module has


def child(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", HIDE_CUDA + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return child(f"from waitbench.cli.main import main; sys.exit(main({list(args)!r}))")


@pytest.mark.parametrize("args", [
    ("run", "--workloads", "fma"),
    ("sweep", "--workloads", "fma"),
    pytest.param(("nccl", "--backend", "nccl"), marks=pytest.mark.skipif(
        importlib.util.find_spec("torch") is None, reason="without torch, nccl's one line names torch first")),
    ("diagnose", "--probe", "--seconds", "1"),
], ids=lambda a: " ".join(a[:2]))
def test_every_kernel_command_fails_first_in_one_line_with_the_command_that_adds_cuda(args: tuple[str, ...]) -> None:
    r = cli(*args)
    lines = [x for x in r.stderr.strip().splitlines() if not x.startswith("note:")]
    assert r.returncode == 1, r.stderr
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "built without CUDA" in lines[0] and ADD_CUDA in lines[0]


@pytest.mark.parametrize("call", ["waitbench.Waiter('spin')", "waitbench.wake_latency('host-block', trials=1)"])
def test_every_kernel_call_raises_one_nocudabuilderror(call: str) -> None:
    r = child(f"""
        import waitbench
        from waitbench.errors import NoCudaBuildError, NoGpuError
        try:
            {call}
        except NoCudaBuildError as exc:
            assert isinstance(exc, NoGpuError)
            print(exc)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\n") == 1 and ADD_CUDA in r.stdout


def test_the_host_barrier_needs_no_cuda_module() -> None:
    r = child("""
        import threading
        from waitbench import HostBarrier
        with HostBarrier(None, 2, timeout_s=10) as b, HostBarrier.open(b.name, timeout_s=10) as other:
            t = threading.Thread(target=other.wait)
            t.start()
            print(b.wait())
            t.join()
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() in {"0", "1"}


def test_the_reports_and_the_version_line_need_no_cuda_module() -> None:
    report = cli("report", "--reference", "--format", "csv")
    assert report.returncode == 0 and report.stdout.count("\n") > 2, report.stderr
    version = cli("--version")
    assert version.returncode == 0
    assert version.stdout.split()[:2] == ["waitbench", __import__("waitbench").__version__]
    assert "host module only, no CUDA module" in " ".join(version.stdout.split())
