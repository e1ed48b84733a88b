// SPDX-License-Identifier: Apache-2.0
// Host clocks. One monotonic clock for every host timestamp in the package (Python reads the same
// one through waitbench._C.now_ns), so host times taken in C++ and Python can be subtracted.
#pragma once

#include <cstdint>

namespace wb {

int64_t now_ns();              // CLOCK_MONOTONIC
int64_t thread_cpu_ns();       // CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID)
void spin_for_ns(int64_t ns);  // busy-wait (used for short gaps where sleeping is too coarse)
void cpu_relax();              // pause hint inside host spin loops

}  // namespace wb
