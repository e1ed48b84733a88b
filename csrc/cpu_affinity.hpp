// SPDX-License-Identifier: Apache-2.0
// Where the wake-up trials run: the timing thread and a host waiter's thread on two distinct
// physical cores, so a round trip measures the wake-up, not the scheduler moving a thread (a futex
// wake-up costs ~1.8 us more on the H200's VM when the woken thread may land anywhere).
#pragma once

#include <pthread.h>
#include <sched.h>

namespace wb {

struct CpuPair {
  int timer = -1;   // the thread that releases and times: the second allowed CPU (the first takes most interrupts)
  int waiter = -1;  // a host waiter's thread: the first allowed CPU that is not the timer's SMT sibling
};

// Chooses from the calling thread's allowed CPUs; {-1, -1} when fewer than two are allowed.
CpuPair choose_cpu_pair();

// Pins a thread to one CPU for this object's life, then gives it back the CPUs it had. A cpu of -1,
// or a kernel that refuses, leaves the thread where it was.
class ScopedAffinity {
 public:
  ScopedAffinity(pthread_t thread, int cpu);
  ~ScopedAffinity();
  ScopedAffinity(const ScopedAffinity&) = delete;
  ScopedAffinity& operator=(const ScopedAffinity&) = delete;

 private:
  pthread_t thread_;
  cpu_set_t saved_;
  bool pinned_ = false;
};

}  // namespace wb
