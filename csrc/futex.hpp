// SPDX-License-Identifier: Apache-2.0
// Futex calls on a word that other processes may map (shared, not FUTEX_PRIVATE): host-only, no CUDA.
#pragma once

#include <atomic>
#include <cstdint>

namespace wb {

// Sleeps while *word == expected, at most timeout_ns; returns 0 when woken, else the errno
// (EAGAIN: the word had changed, ETIMEDOUT, EINTR).
int shared_futex_wait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns);
// Wakes every thread of any process sleeping on `word`.
void shared_futex_wake_all(std::atomic<uint32_t>* word);

}  // namespace wb
