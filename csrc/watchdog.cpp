// SPDX-License-Identifier: Apache-2.0
// The watchdog thread behind front-end and event waits (see watchdog.hpp).
#include "watchdog.hpp"

#include <chrono>

#include "clock.hpp"

namespace wb {

Watchdog::Watchdog() : thread_([this] { loop(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Watchdog::arm(int64_t deadline_ns, std::function<void()> fire) {
  cancel();  // a callback of the previous deadline has returned before its function is replaced
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fire_ = std::move(fire);
    deadline_ns_ = deadline_ns;
    state_.store(kArmed, std::memory_order_release);
    wake = deadline_ns < wakes_at_ns_;
  }
  if (wake) cv_.notify_all();
}

bool Watchdog::cancel() {
  uint32_t s = kArmed;
  if (state_.compare_exchange_strong(s, kIdle, std::memory_order_acq_rel)) return false;
  // s is what it was: kIdle (nothing armed), kFiring or kFired.
  while (state_.load(std::memory_order_acquire) == kFiring) cpu_relax();  // the callback is short
  if (s != kIdle) state_.store(kIdle, std::memory_order_release);
  return s != kIdle;
}

void Watchdog::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (state_.load(std::memory_order_acquire) != kArmed) {
      wakes_at_ns_ = INT64_MAX;
      cv_.wait(lock);
      continue;
    }
    const int64_t deadline = deadline_ns_;
    const int64_t left = deadline - now_ns();
    if (left > 0) {
      // A cancel does not wake us: we look again at this deadline and sleep on to the current one.
      wakes_at_ns_ = deadline;
      cv_.wait_for(lock, std::chrono::nanoseconds(left));
      continue;
    }
    uint32_t expected = kArmed;
    if (!state_.compare_exchange_strong(expected, kFiring, std::memory_order_acq_rel)) continue;  // cancelled
    auto fire = fire_;
    lock.unlock();
    fire();  // outside the lock: it may call CUDA
    state_.store(kFired, std::memory_order_release);
    lock.lock();
  }
}

}  // namespace wb
