// SPDX-License-Identifier: Apache-2.0
// A deadline for waits that have none of their own (a stream blocked in cuStreamWaitValue32, a
// host thread in cudaEventSynchronize): at the deadline it runs a callback that releases them.
#pragma once

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
  // Cancels a pending deadline; returns true if it had already fired.
  bool cancel();

 private:
  void loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> fire_;
  int64_t deadline_ns_ = 0;
  bool pending_ = false;
  bool fired_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace wb
