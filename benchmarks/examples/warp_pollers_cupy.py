# SPDX-License-Identifier: Apache-2.0
"""Worked example (b): one poller per warp, as a cupy RawKernel research strategy.

The built-in ``spin`` lets the first ``pollers`` threads of a block poll, so a few pollers share one
warp and one SM sub-partition. Here lane 0 of every warp polls and the other lanes wait at the block
barrier: the pollers spread over the SM's warp schedulers. Does that cost concurrent work more
issue slots than one poller, and does it wake faster? The runner answers, beside ``spin``.

Ship it from a package with, in pyproject.toml::

    [project.entry-points."waitbench.strategies"]
    warp-pollers = "warp_pollers_cupy:register"
"""

from __future__ import annotations

from typing import Any

NAME = "cupy-warp-pollers"

SOURCE = r"""
extern "C" __global__ void warp_pollers_wait(const unsigned int* flag, const unsigned int* abort,
                                             wb::BlockSlot* slots, unsigned long long timeout_ns,
                                             unsigned int gen, long long blocks, long long threads,
                                             long long check_every) {
  __shared__ unsigned int s_outcome;
  __shared__ unsigned long long s_wake_gt;
  wb::BlockSlot* slot = slots + blockIdx.x;
  if (threadIdx.x == 0) {
    s_outcome = wb::kPending;
    s_wake_gt = 0;
    wb::arm_block(slot, gen);
  }
  __syncthreads();
  if ((threadIdx.x & 31) == 0) {  // lane 0 of every warp polls
    const unsigned long long deadline = wb::globaltimer_ns() + timeout_ns;
    long long since_check = check_every;  // check abort and clock on the first poll too
    for (;;) {
      if (wb::released_volatile(flag, gen)) {  // volatile poll, as spin's default
        const unsigned long long now = wb::globaltimer_ns();
        if (atomicCAS(&s_outcome, wb::kPending, wb::kReleased) == wb::kPending) s_wake_gt = now;
        break;
      }
      if (wb::ld_volatile(&s_outcome) != wb::kPending) break;  // another warp ended the wait
      if (++since_check >= check_every) {
        since_check = 0;
        if (wb::ld_volatile(abort) != 0) {
          atomicCAS(&s_outcome, wb::kPending, wb::kAborted);
          break;
        }
        if (wb::globaltimer_ns() > deadline) {
          atomicCAS(&s_outcome, wb::kPending, wb::kExpired);
          break;
        }
      }
    }
  }
  __syncthreads();  // lanes 1..31 park here (bar.sync) while their warp's lane 0 polls
  if (threadIdx.x == 0) wb::finish_block(slot, gen, s_outcome, s_wake_gt);
}
"""


def build_kernel() -> Any:
    """The kernel, built on first use: cupy is imported only when the strategy is measured."""
    import cupy

    from waitbench.custom import cuda_prelude

    return cupy.RawKernel(cuda_prelude() + SOURCE, "warp_pollers_wait", options=("--std=c++17",))


def register() -> None:
    """Register the strategy (idempotent, so a script and an entry point may both call it)."""
    from waitbench import strategies
    from waitbench.custom import Launch, Option, register_strategy

    if NAME in {s.name for s in strategies()}:
        return
    register_strategy(
        NAME, build_kernel,
        options=(
            Option("blocks", int, 1, "waiter blocks", "", 1, 1024),
            Option("threads", int, 128, "threads per block: one polling warp lane per 32", "", 32, 1024,
                   multiple_of=32),
            Option("check_every", int, 10_000, "polls between reads of the abort word and the clock", "", 1,
                   1_000_000),
        ),
        launch=Launch(blocks="blocks", threads="threads", pollers=lambda o: o["threads"] // 32),
        doc="cupy RawKernel example: lane 0 of every warp polls (pollers spread over the warp schedulers), "
            "the other lanes park at the block barrier.",
    )
