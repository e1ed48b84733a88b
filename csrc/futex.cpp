// SPDX-License-Identifier: Apache-2.0
// Futex wait and wake, shared and private (see futex.hpp).
#include "futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

namespace wb {
namespace {

int futex_wait(std::atomic<uint32_t>* word, int op, uint32_t expected, int64_t timeout_ns) {
  if (timeout_ns < 0) timeout_ns = 0;
  const timespec ts{static_cast<time_t>(timeout_ns / 1000000000LL), static_cast<long>(timeout_ns % 1000000000LL)};
  const long r = ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, expected, &ts, nullptr, 0);
  return r == 0 ? 0 : errno;
}

void futex_wake_all(std::atomic<uint32_t>* word, int op) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace

int shared_futex_wait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns) {
  return futex_wait(word, FUTEX_WAIT, expected, timeout_ns);
}

void shared_futex_wake_all(std::atomic<uint32_t>* word) { futex_wake_all(word, FUTEX_WAKE); }

int private_futex_wait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns) {
  return futex_wait(word, FUTEX_WAIT_PRIVATE, expected, timeout_ns);
}

void private_futex_wake_all(std::atomic<uint32_t>* word) { futex_wake_all(word, FUTEX_WAKE_PRIVATE); }

}  // namespace wb
