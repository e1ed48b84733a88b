// SPDX-License-Identifier: Apache-2.0
// Host clocks: host-only (no CUDA header), part of both native modules.
#include "clock.hpp"

#include <time.h>

namespace wb {

static int64_t read_clock(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

int64_t now_ns() { return read_clock(CLOCK_MONOTONIC); }
int64_t thread_cpu_ns() { return read_clock(CLOCK_THREAD_CPUTIME_ID); }

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

void spin_for_ns(int64_t ns) {
  const int64_t end = now_ns() + ns;
  while (now_ns() < end) cpu_relax();
}

}  // namespace wb
