// SPDX-License-Identifier: Apache-2.0
// The futex calls of every host-side sleep (the cross-process barrier, the dispatch ring, the host
// waiter thread): one place for the system call and its timeout. Host-only, no CUDA.
#pragma once

#include <atomic>
#include <cstdint>

namespace wb {

// Shared forms (FUTEX_WAIT / FUTEX_WAKE): for a word in memory several processes map (POSIX
// shared memory). Sleeps while *word == expected, at most timeout_ns (a negative timeout is 0:
// returns at once); returns 0 when woken, else the errno (EAGAIN: the word had changed,
// ETIMEDOUT, EINTR: a signal; the caller checks its abort flags and decides whether to wait again).
int shared_futex_wait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns);
// Wakes every thread of any process sleeping on `word`.
void shared_futex_wake_all(std::atomic<uint32_t>* word);

// Private forms (FUTEX_WAIT_PRIVATE / FUTEX_WAKE_PRIVATE), cheaper: for a word of this process
// only. The same timeout and return value as the shared wait.
int private_futex_wait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns);
void private_futex_wake_all(std::atomic<uint32_t>* word);

}  // namespace wb
