// SPDX-License-Identifier: Apache-2.0
// The same-process hand-off floor (see handoff_floor.hpp).
#include "handoff_floor.hpp"

#include <atomic>
#include <exception>
#include <string>
#include <thread>

#include "clock.hpp"
#include "host_errors.hpp"

namespace wb {

HandoffSamples handoff_floor(int n, int64_t gap_ns, double timeout_s, const std::function<void(int)>& work) {
  if (n < 1) throw std::invalid_argument("n=" + std::to_string(n) + " is invalid: expected an int >= 1");
  HandoffSamples s;
  s.arrival_ns.assign(n, 0);
  s.recv_ns.assign(n, 0);
  alignas(64) std::atomic<int> posted{-1};
  alignas(64) std::atomic<int> done{-1};
  std::atomic<bool> stop{false};
  std::exception_ptr failure;
  const int64_t limit_ns = static_cast<int64_t>(timeout_s * 1e9);
  std::thread hot([&] {
    try {
      for (int i = 0; i < n; ++i) {
        while (posted.load(std::memory_order_acquire) < i) {
          if (stop.load(std::memory_order_relaxed)) return;
          cpu_relax();
        }
        s.recv_ns[i] = now_ns();
        if (work) work(i);
        done.store(i, std::memory_order_release);
      }
    } catch (...) {
      failure = std::current_exception();
      done.store(n, std::memory_order_release);
    }
  });
  std::string expired;
  for (int i = 0; i < n && expired.empty(); ++i) {
    spin_for_ns(gap_ns);
    s.arrival_ns[i] = now_ns();
    posted.store(i, std::memory_order_release);
    const int64_t limit = s.arrival_ns[i] + limit_ns;
    while (done.load(std::memory_order_acquire) < i) {
      if (now_ns() > limit) {
        expired = "hand-off " + std::to_string(i) + " was not taken within " + std::to_string(timeout_s) + " s";
        break;
      }
      cpu_relax();
    }
    if (done.load(std::memory_order_acquire) >= n) break;  // the work failed
  }
  stop.store(true);
  hot.join();
  if (failure) std::rethrow_exception(failure);
  if (!expired.empty()) throw WaitExpired(expired);
  return s;
}

}  // namespace wb
