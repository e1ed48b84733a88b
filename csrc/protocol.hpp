// SPDX-License-Identifier: Apache-2.0
// The waiter protocol: the words every waiter is given and what it writes back. Shared by the
// kernels, the host side and (through the bindings) Python, so there is one source of truth.
//
// - flag:   the release word (or one word per poller's line). A waiter armed with generation `gen`
//           is released once (int32_t)(flag - gen) >= 0. Host-mapped pinned memory or device memory.
// - abort:  host-mapped; nonzero aborts every waiter (as ncclCommAbort does).
// - deadline: a waiter ends by itself `timeout_ns` after it started (read from %globaltimer).
// - slot:   one per waiter block, host-mapped: `armed` = gen once resident, `ack` = gen once it
//           has finished waiting, `outcome` says how, `wake_gt` when it saw the release.
#pragma once

#include <cstdint>

namespace wb {

enum Outcome : uint32_t {
  kPending = 0,
  kReleased = 1,
  kExpired = 2,
  kAborted = 3,
};

// 64 bytes so the host's scan of many slots does not false-share with the GPU's writes.
struct alignas(64) BlockSlot {
  uint32_t armed;     // == gen once this block is resident and about to poll
  uint32_t ack;       // == gen once this block stopped waiting (written last)
  uint32_t outcome;   // Outcome
  uint32_t smid;      // %smid of the block
  uint64_t start_gt;  // %globaltimer when the block started
  uint64_t wake_gt;   // %globaltimer when the release was observed (0 if not released)
  uint64_t pad[4];
};
static_assert(sizeof(BlockSlot) == 64, "BlockSlot must be one 64-byte line");

struct alignas(64) ControlWords {
  uint32_t flag;   // release word, when the flag lives in host memory
  uint32_t abort;  // nonzero: abort
  uint32_t pad[14];
};

// Parameters of the device-resident spin waiter (one kernel launch = one wait).
struct SpinParams {
  const uint32_t* flag;
  const uint32_t* abort;
  BlockSlot* slots;
  uint64_t timeout_ns;
  uint32_t gen;
  uint32_t pollers;
  uint32_t check_every;
  uint32_t backoff_mode;  // 0 none, 1 fixed, 2 exponential
  uint32_t backoff_ns;
  uint32_t backoff_cap_ns;
  uint32_t poll_acquire;  // 1: ld.acquire.sys each poll; 0: ld.volatile polls (NCCL)
  uint32_t flag_stride;   // 0: every poller polls flag[0]; else poller t of block b polls
                          // flag[(b * pollers + t) * flag_stride] (its own line, as NCCL LL threads do)
  float seed;             // makes held registers' contents unknown to the compiler
};

enum BackoffMode : uint32_t { kBackoffNone = 0, kBackoffFixed = 1, kBackoffExp = 2 };

}  // namespace wb
