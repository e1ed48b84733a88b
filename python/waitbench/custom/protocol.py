# SPDX-License-Identifier: Apache-2.0
"""The waiter protocol as a kernel written outside waitbench sees it.

Word layout, outcomes, and the CUDA C++ helpers a cupy or NVRTC kernel prepends.

csrc/protocol.hpp is the source of truth. The sizes and outcome codes are read from the compiled
core (``waitbench._C``) at run time; the field offsets below cannot be, so a CPU test compiles the
header and checks them, and :func:`check_native` checks the sizes against the core before any
custom kernel is launched. See docs/PROTOCOL.md.
"""

from __future__ import annotations

from typing import Any

# Byte offsets of wb::BlockSlot's fields (one 64-byte slot per waiter block, host-mapped memory).
SLOT_OFFSETS: dict[str, int] = {"armed": 0, "ack": 4, "outcome": 8, "smid": 12, "start_gt": 16, "wake_gt": 24}
SLOT_WIDTHS: dict[str, int] = {"armed": 4, "ack": 4, "outcome": 4, "smid": 4, "start_gt": 8, "wake_gt": 8}
SLOT_BYTES = 64
# wb::ControlWords: the host-mapped release word (when flag='host') and the abort word.
CONTROL_OFFSETS: dict[str, int] = {"flag": 0, "abort": 4}
CONTROL_BYTES = 64

# Indices for numba kernels, which see the slots as a uint32 view and a uint64 view of one buffer.
SLOT_WORDS32 = SLOT_BYTES // 4
SLOT_WORDS64 = SLOT_BYTES // 8
ARMED, ACK, OUTCOME, SMID = (SLOT_OFFSETS[k] // 4 for k in ("armed", "ack", "outcome", "smid"))
START_GT, WAKE_GT = (SLOT_OFFSETS[k] // 8 for k in ("start_gt", "wake_gt"))

OUTCOME_NAMES = ("pending", "released", "expired", "aborted")  # index = wb::Outcome value


def outcomes() -> dict[str, int]:
    """Outcome codes as the core defines them (``_C.OUTCOME_*``), by name."""
    from .._native import native

    c = native()
    return {"pending": c.OUTCOME_PENDING, "released": c.OUTCOME_RELEASED, "expired": c.OUTCOME_EXPIRED,
            "aborted": c.OUTCOME_ABORTED}


def check_native(c: Any = None) -> None:
    """Raise RuntimeError if this module's layout disagrees with the compiled core's."""
    if c is None:
        from .._native import native

        c = native()
    found = {"BLOCK_SLOT_BYTES": c.BLOCK_SLOT_BYTES, "CONTROL_WORDS_BYTES": c.CONTROL_WORDS_BYTES,
             "outcomes": [c.OUTCOME_PENDING, c.OUTCOME_RELEASED, c.OUTCOME_EXPIRED, c.OUTCOME_ABORTED]}
    expected = {"BLOCK_SLOT_BYTES": SLOT_BYTES, "CONTROL_WORDS_BYTES": CONTROL_BYTES, "outcomes": [0, 1, 2, 3]}
    if found != expected:
        raise RuntimeError(f"waitbench.custom.protocol is out of date with the native core: {found} != {expected}; "
                           "rebuild waitbench")


def cuda_prelude() -> str:
    """CUDA C++ to put before a custom kernel's source (cupy RawKernel/RawModule, NVRTC).

    It declares ``wb::BlockSlot`` with static_asserts on its size (and, under nvcc, every offset), the
    outcome codes, and the same PTX one-liners the built-in kernels use. It needs no header, so NVRTC
    compiles it as is.
    """
    asserts = "\n".join(f"static_assert(offsetof(BlockSlot, {k}) == {v}, \"waitbench protocol: {k}\");"
                        for k, v in SLOT_OFFSETS.items())
    return _PRELUDE.format(slot_bytes=SLOT_BYTES, asserts=asserts,
                           codes="enum Outcome : unsigned int { " + ", ".join(
                               f"k{n.capitalize()} = {i}" for i, n in enumerate(OUTCOME_NAMES)) + " };")


_PRELUDE = r"""// ---- waitbench waiter protocol (docs/PROTOCOL.md) ----
namespace wb {{
struct __align__(64) BlockSlot {{
  unsigned int armed;            // write gen once this block is resident and about to poll
  unsigned int ack;              // write gen once this block stopped waiting (last write, release)
  unsigned int outcome;          // kReleased, kExpired or kAborted
  unsigned int smid;             // %smid of the block
  unsigned long long start_gt;   // %globaltimer when the block started
  unsigned long long wake_gt;    // %globaltimer when the release was observed (0 if not released)
  unsigned long long pad[4];
}};
static_assert(sizeof(BlockSlot) == {slot_bytes}, "waitbench protocol: BlockSlot size");
#ifndef __CUDACC_RTC__  // NVRTC has no offsetof; nvcc checks every field (tests/custom/test_protocol.py)
{asserts}
#endif
{codes}

__device__ __forceinline__ unsigned long long globaltimer_ns() {{
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}}
__device__ __forceinline__ unsigned int sm_id() {{
  unsigned int id;
  asm volatile("mov.u32 %0, %%smid;" : "=r"(id));
  return id;
}}
// System-scope acquire load: sees host stores to mapped memory and peer/device stores alike.
__device__ __forceinline__ unsigned int ld_acquire_sys(const unsigned int* p) {{
  unsigned int v;
  asm volatile("ld.acquire.sys.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}}
__device__ __forceinline__ unsigned int ld_volatile(const unsigned int* p) {{
  return *reinterpret_cast<const volatile unsigned int*>(p);
}}
__device__ __forceinline__ void st_release_sys(unsigned int* p, unsigned int v) {{
  asm volatile("st.release.sys.global.u32 [%0], %1;" : : "l"(p), "r"(v) : "memory");
}}
// Released once (int)(flag - gen) >= 0: generations wrap, so compare the difference. The acquire
// form orders what follows after the release; the volatile form is NCCL's poll (and the built-in
// spin's default, poll='volatile'): cheaper, enough when nothing the releaser wrote is read after.
__device__ __forceinline__ bool released(const unsigned int* flag, unsigned int gen) {{
  return static_cast<int>(ld_acquire_sys(flag) - gen) >= 0;
}}
__device__ __forceinline__ bool released_volatile(const unsigned int* flag, unsigned int gen) {{
  return static_cast<int>(ld_volatile(flag) - gen) >= 0;
}}
// First thing a block does (one thread): where it runs, when it started, then `armed` (release).
__device__ __forceinline__ unsigned long long arm_block(BlockSlot* slot, unsigned int gen) {{
  const unsigned long long start = globaltimer_ns();
  slot->smid = sm_id();
  slot->start_gt = start;
  st_release_sys(&slot->armed, gen);
  return start;
}}
// Last thing a block does (one thread), on every exit path: how it ended, then `ack` (release).
__device__ __forceinline__ void finish_block(BlockSlot* slot, unsigned int gen, unsigned int outcome,
                                             unsigned long long wake_gt) {{
  slot->wake_gt = wake_gt;
  slot->outcome = outcome;
  st_release_sys(&slot->ack, gen);
}}
}}  // namespace wb
// ---- end of the waitbench protocol ----
"""
