// SPDX-License-Identifier: Apache-2.0
// Host-side waits: a persistent thread (one per waiter, reused across trials, so no trial measures
// thread creation) waits in one of four ways, then enqueues the work kernel on the GPU.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "protocol.hpp"

namespace wb {

enum class HostWaitMode {
  kSpin,       // atomic load loop (optionally blocking after spin_ns)
  kYield,      // sched_yield between loads
  kBlock,      // futex wait
  kEventSync,  // cudaEventSynchronize on an event recorded behind a stream wait
};

struct HostWaitDone {
  uint32_t outcome = kPending;
  int64_t observe_ns = 0;  // host time the thread saw the release
  int64_t cpu_ns = 0;      // the thread's CPU time while waiting
  int64_t wall_ns = 0;     // wall time while waiting
};

class HostWaitThread {
 public:
  HostWaitThread(int device, HostWaitMode mode, int64_t spin_ns, cudaStream_t work_stream, BlockSlot* slot);
  ~HostWaitThread();
  HostWaitThread(const HostWaitThread&) = delete;
  HostWaitThread& operator=(const HostWaitThread&) = delete;

  // Starts waiting for generation `gen` (event: the kEventSync event to synchronize on).
  void start(uint32_t gen, int64_t timeout_ns, cudaEvent_t event);
  bool waiting(uint32_t gen) const { return waiting_gen_.load(std::memory_order_acquire) == gen; }
  // Release word: the waiter returns once (int32_t)(word - gen) >= 0.
  void release(uint32_t gen);
  // Ends the current wait with `outcome` (kAborted, or kExpired from a watchdog); for kEventSync
  // the caller must also release the stream wait the event sits behind.
  void interrupt(uint32_t outcome);
  // True once the wait for `gen` has ended; fills `out`.
  bool done(uint32_t gen, HostWaitDone* out) const;
  void clear_interrupt() { interrupt_.store(kPending, std::memory_order_release); }

 private:
  void loop();
  uint32_t wait_for(uint32_t gen, int64_t deadline_ns, int64_t start_ns, cudaEvent_t event);
  bool released(uint32_t gen) const;

  const int device_;
  const HostWaitMode mode_;
  const int64_t spin_ns_;
  cudaStream_t work_stream_;
  BlockSlot* slot_;

  std::atomic<uint32_t> release_word_{0};
  std::atomic<uint32_t> interrupt_{kPending};
  std::atomic<uint32_t> waiting_gen_{0};
  std::atomic<uint32_t> done_gen_{0};
  HostWaitDone done_{};

  std::atomic<uint32_t> posted_gen_{0};  // cmd_gen_, readable without the lock (see loop())
  std::mutex mu_;
  std::condition_variable cv_;
  uint32_t cmd_gen_ = 0;
  int64_t cmd_timeout_ns_ = 0;
  cudaEvent_t cmd_event_ = nullptr;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace wb
