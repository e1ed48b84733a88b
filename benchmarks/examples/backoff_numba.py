# SPDX-License-Identifier: Apache-2.0
"""Worked example (a): an exponential-backoff poller written in numba.cuda, as a research strategy.

One thread per block polls the release word and sleeps (``__nanosleep``) between polls, doubling
the sleep up to a cap; the block's other threads wait at a barrier. It is the algorithm of the
built-in ``spin-backoff`` (backoff='exp'), written outside waitbench: measured side by side, the two
should agree, and any difference is the implementation's (numba's code, a clock read per poll).

Ship it from a package with, in pyproject.toml::

    [project.entry-points."waitbench.strategies"]
    numba-backoff = "backoff_numba:register"

then ``waitbench run --strategies numba-exp-backoff`` finds it.
"""

from __future__ import annotations

from typing import Any

NAME = "numba-exp-backoff"


def numpy_compat_for_numba_cuda() -> None:
    """Restore ``np.row_stack``, which numba-cuda 0.30.4 still uses and NumPy 2.5 removed.

    It was an alias of ``np.vstack``; restoring it in this process lets numba.cuda import. This example
    does it explicitly; waitbench itself never patches NumPy.
    """
    import numpy as np

    if not hasattr(np, "row_stack"):
        np.row_stack = np.vstack


def build_kernel() -> Any:
    """The kernel, built on first use: numba is imported only when the strategy is measured."""
    import numpy as np

    numpy_compat_for_numba_cuda()
    from numba import cuda

    from waitbench.custom import numba_ops as wb

    @cuda.jit
    def exp_backoff_wait(flag, abort, slots32, slots64, timeout_ns, gen, blocks, first_ns, cap_ns):
        b = cuda.blockIdx.x
        if cuda.threadIdx.x == 0:
            deadline = wb.arm_block(slots32, slots64, b, gen) + timeout_ns
            outcome = wb.EXPIRED
            wake = np.uint64(0)
            sleep = first_ns
            while True:
                if wb.released_volatile(flag, gen):  # volatile poll, as spin-backoff's default
                    outcome = wb.RELEASED
                    wake = wb.globaltimer()
                    break
                if wb.load_volatile(abort, 0) != 0:
                    outcome = wb.ABORTED
                    break
                if wb.globaltimer() > deadline:  # every poll: each one already sleeps
                    break
                cuda.nanosleep(np.uint32(sleep))
                sleep = min(sleep * 2, cap_ns)
            wb.finish_block(slots32, slots64, b, gen, outcome, wake)
        cuda.syncthreads()  # the other threads park here while thread 0 polls

    return exp_backoff_wait


def _check(opts: dict[str, Any]) -> None:
    from waitbench.errors import invalid

    if opts["cap_ns"] < opts["first_ns"]:
        raise invalid("cap_ns", opts["cap_ns"], f">= first_ns={opts['first_ns']}")


def register() -> None:
    """Register the strategy (idempotent, so a script and an entry point may both call it)."""
    from waitbench import strategies
    from waitbench.custom import Launch, Option, register_strategy

    if NAME in {s.name for s in strategies()}:
        return
    register_strategy(
        NAME, build_kernel,
        options=(
            Option("blocks", int, 1, "waiter blocks, one polling thread each", "", 1, 1024),
            Option("first_ns", int, 100, "first sleep between polls", "ns", 1, 1_000_000),
            Option("cap_ns", int, 10_000, "largest sleep: the sleep doubles up to it", "ns", 1, 1_000_000),
        ),
        launch=Launch(blocks="blocks", threads=32, pollers=1),
        doc="numba.cuda example: one poller per block, __nanosleep doubling from first_ns to cap_ns "
            "(the algorithm of spin-backoff, written outside waitbench).",
        check=_check,
    )
