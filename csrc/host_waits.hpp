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

// kEventSync: what the thread enqueues before each wait and synchronizes on. The thread makes the
// calls itself, so the timing thread touches no CUDA state between two trials.
struct EventWait {
  cudaStream_t stream = nullptr;  // holds the stream wait-value the event is recorded behind
  cudaEvent_t event = nullptr;
  uint32_t* flag_dev = nullptr;  // the release word that stream waits for
};

class HostWaitThread {
 public:
  HostWaitThread(int device, HostWaitMode mode, int64_t spin_ns, cudaStream_t work_stream, BlockSlot* slot,
                 EventWait event_wait = {});
  ~HostWaitThread();
  HostWaitThread(const HostWaitThread&) = delete;
  HostWaitThread& operator=(const HostWaitThread&) = delete;

  // Starts waiting for generation `gen`.
  void start(uint32_t gen, int64_t timeout_ns);
  bool waiting(uint32_t gen) const { return waiting_gen_.load(std::memory_order_acquire) == gen; }
  pthread_t native_handle() { return thread_.native_handle(); }
  // Release word: the waiter returns once (int32_t)(word - gen) >= 0.
  void release(uint32_t gen);
  // Ends the current wait with `outcome` (kAborted, or kExpired from a watchdog); for kEventSync
  // the caller must also release the stream wait the event sits behind.
  void interrupt(uint32_t outcome);
  // True once the wait for `gen` has ended and the work launched after it has finished; fills `out`.
  bool done(uint32_t gen, HostWaitDone* out) const;
  void clear_interrupt() { interrupt_.store(kPending, std::memory_order_release); }

 private:
  void loop();
  // kEventSync: enqueues the stream wait for `gen` and records the event behind it.
  bool enqueue_event_wait(uint32_t gen) noexcept;
  uint32_t wait_for(uint32_t gen, int64_t deadline_ns, int64_t start_ns);
  // Launches the work, then waits for it to finish; the final outcome.
  uint32_t run_work(uint32_t gen) noexcept;
  bool released(uint32_t gen) const;

  const int device_;
  const HostWaitMode mode_;
  const int64_t spin_ns_;
  cudaStream_t work_stream_;
  BlockSlot* slot_;
  const EventWait event_wait_;

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
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace wb
