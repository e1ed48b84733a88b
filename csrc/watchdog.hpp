// SPDX-License-Identifier: Apache-2.0
// A deadline for waits that have none of their own (a stream blocked in cuStreamWaitValue32, a
// host thread in cudaEventSynchronize): at the deadline it runs a callback that releases them.
//
// Cheap where it is on the wake-up path: cancel() is one atomic exchange (no lock, no system
// call), and arm() wakes the watchdog's thread only when the new deadline comes before the moment
// it already sleeps until (with one timeout per waiter, only the first arm of a while does).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace wb {

class Watchdog {
 public:
  Watchdog();
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Runs `fire` on the watchdog's thread at host time `deadline_ns` (wb::now_ns) unless cancelled.
  void arm(int64_t deadline_ns, std::function<void()> fire);
  // Cancels a pending deadline; returns true if it had already fired (then only once its callback
  // has returned). Lock-free unless the callback is running at that moment.
  bool cancel();

 private:
  enum State : uint32_t { kIdle, kArmed, kFiring, kFired };
  void loop();
  std::atomic<uint32_t> state_{kIdle};
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> fire_;       // guarded by mu_
  int64_t deadline_ns_ = 0;          // guarded by mu_
  int64_t wakes_at_ns_ = INT64_MAX;  // guarded by mu_: when the thread looks next (MAX: when notified)
  bool stop_ = false;                // guarded by mu_
  std::thread thread_;
};

}  // namespace wb
