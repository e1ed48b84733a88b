# SPDX-License-Identifier: Apache-2.0
"""benchmarks/two_gpu_*.sh refuse, in one line and before building anything, a machine with fewer than 2 GPUs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _gpus() -> int:
    if not shutil.which("nvidia-smi"):
        return 0
    got = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=60)
    return sum(line.startswith("GPU ") for line in got.stdout.splitlines())


@pytest.mark.parametrize("script", ["two_gpu_profiler.sh", "two_gpu_dispatch.sh"])
def test_fewer_than_two_gpus_exit_2_in_one_line(script, tmp_path):
    if _gpus() >= 2:
        pytest.skip("this machine has 2 GPUs")
    got = subprocess.run(["bash", str(ROOT / "benchmarks" / script), str(tmp_path / "out")], capture_output=True,
                         text=True, timeout=60)
    assert got.returncode == 2 and got.stderr.count("\n") == 1 and "needs 2 or more GPUs" in got.stderr
    assert got.stdout == "" and not (tmp_path / "out").exists()


@pytest.mark.parametrize("script", ["two_gpu_profiler.sh", "two_gpu_dispatch.sh"])
def test_without_an_output_folder_they_say_how_to_call_them(script):
    got = subprocess.run(["bash", str(ROOT / "benchmarks" / script)], capture_output=True, text=True, timeout=60)
    assert got.returncode != 0 and f"usage: bash benchmarks/{script} OUT [PACK]" in got.stderr
