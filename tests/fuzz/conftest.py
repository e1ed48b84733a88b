# SPDX-License-Identifier: Apache-2.0
"""What the fuzz tests share: the GPU and NVML withheld (so a valid input ends in the no-GPU line
instead of a measurement, on a GPU machine too), hypothesis settings sized for CI, and the tally
of how every tried input ended, printed at the end of the run.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from waitbench.errors import NoGpuError, NvmlError

# Examples per test: sized so the fuzz tests take well under a minute on CI's 2 cores; raise it
# (WAITBENCH_FUZZ_EXAMPLES=20000) for a longer hunt. Derandomized, so CI tries the same inputs each
# run; WAITBENCH_FUZZ_RANDOM=1 draws new ones.
SCALE = int(os.environ.get("WAITBENCH_FUZZ_EXAMPLES", "0") or 0)
RANDOM = os.environ.get("WAITBENCH_FUZZ_RANDOM") == "1"


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=SCALE or examples, deadline=None, derandomize=not RANDOM, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


TALLY: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for what, counts in TALLY.items():
        total = sum(counts.values())
        ends = ", ".join(f"{n} {k}" for k, n in counts.most_common())
        terminalreporter.write_line(f"fuzz {what}: {total} inputs tried: {ends}")


@pytest.fixture(scope="module")
def no_gpu() -> Iterator[None]:
    """The CUDA core and NVML both report themselves absent (a fake of availability only, named so)."""
    import waitbench._native as native_mod
    from waitbench.telemetry import nvml

    def no_cuda():
        raise NoGpuError("no usable CUDA GPU: withheld by the fuzz test")

    def no_nvml():
        raise NvmlError("nvmlInit", 12, "NVML withheld by the fuzz test")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(native_mod, "native", no_cuda)
        mp.setattr(nvml, "_init", no_nvml)
        yield
