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
  {
    std::lock_guard<std::mutex> lock(mu_);
    fire_ = std::move(fire);
    deadline_ns_ = deadline_ns;
    pending_ = true;
    fired_ = false;
  }
  cv_.notify_all();
}

bool Watchdog::cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  pending_ = false;
  return fired_;
}

void Watchdog::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (!pending_) {
      cv_.wait(lock);
      continue;
    }
    const int64_t left = deadline_ns_ - now_ns();
    if (left > 0) {
      cv_.wait_for(lock, std::chrono::nanoseconds(left));
      continue;  // re-check: cancelled, re-armed, stopped, or the deadline passed
    }
    pending_ = false;
    fired_ = true;
    auto fire = fire_;
    lock.unlock();
    fire();  // outside the lock: it may call CUDA
    lock.lock();
  }
}

}  // namespace wb
