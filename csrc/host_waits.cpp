// SPDX-License-Identifier: Apache-2.0
// The persistent host waiter thread (see host_waits.hpp). All timing is taken on this thread in
// C++; Python is never on a wake-up path.
#include "host_waits.hpp"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "clock.hpp"
#include "common.hpp"
#include "device_waits.hpp"
#include "futex.hpp"
#include "stream_waits.hpp"

namespace wb {
namespace {

// After a wait the thread polls this long for the next one before it sleeps on the condition
// variable: back-to-back trials then find it awake on its CPU with warm caches (as a serving
// loop's thread is), and arming costs no wake-up.
constexpr int64_t kCommandSpinNs = 200000;

}  // namespace

HostWaitThread::HostWaitThread(int device, HostWaitMode mode, int64_t spin_ns, cudaStream_t work_stream,
                               BlockSlot* slot, EventWait event_wait)
    : device_(device),
      mode_(mode),
      spin_ns_(spin_ns),
      work_stream_(work_stream),
      slot_(slot),
      event_wait_(event_wait),
      thread_([this] { loop(); }) {}

HostWaitThread::~HostWaitThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  interrupt(kAborted);
  cv_.notify_all();
  thread_.join();
}

void HostWaitThread::start(uint32_t gen, int64_t timeout_ns) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cmd_gen_ = gen;
    cmd_timeout_ns_ = timeout_ns;
    posted_gen_.store(gen, std::memory_order_release);
  }
  cv_.notify_all();
}

void HostWaitThread::release(uint32_t gen) {
  release_word_.store(gen, std::memory_order_release);
  // Only a thread that may be asleep needs the system call (a pure spin never is).
  if (mode_ == HostWaitMode::kBlock || (mode_ == HostWaitMode::kSpin && spin_ns_ >= 0))
    private_futex_wake_all(&release_word_);
}

void HostWaitThread::interrupt(uint32_t outcome) {
  uint32_t expected = kPending;
  interrupt_.compare_exchange_strong(expected, outcome, std::memory_order_acq_rel);
  private_futex_wake_all(&release_word_);
}

bool HostWaitThread::done(uint32_t gen, HostWaitDone* out) const {
  if (done_gen_.load(std::memory_order_acquire) != gen) return false;
  *out = done_;
  return true;
}

bool HostWaitThread::released(uint32_t gen) const {
  return static_cast<int32_t>(release_word_.load(std::memory_order_acquire) - gen) >= 0;
}

bool HostWaitThread::enqueue_event_wait(uint32_t gen) noexcept {
  try {
    enqueue_wait_value(event_wait_.stream, event_wait_.flag_dev, gen);
    return cudaEventRecord(event_wait_.event, event_wait_.stream) == cudaSuccess;
  } catch (...) {
    return false;
  }
}

uint32_t HostWaitThread::wait_for(uint32_t gen, int64_t deadline_ns, int64_t start_ns) {
  if (mode_ == HostWaitMode::kEventSync) {
    // The deadline and aborts reach this wait through the stream: the owner releases the stream
    // wait the event sits behind, then says why through interrupt_.
    const cudaError_t err = cudaEventSynchronize(event_wait_.event);
    const uint32_t why = interrupt_.load(std::memory_order_acquire);
    if (why != kPending) return why;
    return err == cudaSuccess ? kReleased : kAborted;
  }
  bool blocking = mode_ == HostWaitMode::kBlock;
  for (uint32_t turn = 0;; ++turn) {
    if (released(gen)) return kReleased;
    const uint32_t why = interrupt_.load(std::memory_order_acquire);
    if (why != kPending) return why;
    if (!blocking && mode_ == HostWaitMode::kSpin && turn % 16 != 0) {  // the clock every 16th poll (~1 us)
      cpu_relax();
      continue;
    }
    const int64_t now = now_ns();
    if (now >= deadline_ns) return kExpired;
    if (blocking) {
      // The word may change between the check and the call; futex returns at once then.
      const uint32_t seen = release_word_.load(std::memory_order_acquire);
      if (static_cast<int32_t>(seen - gen) >= 0) return kReleased;
      private_futex_wait(&release_word_, seen, std::min<int64_t>(deadline_ns - now, 100000000LL));
    } else if (mode_ == HostWaitMode::kYield) {
      sched_yield();
    } else {
      cpu_relax();
      if (spin_ns_ >= 0 && now - start_ns >= spin_ns_) blocking = true;
    }
  }
}

uint32_t HostWaitThread::run_work(uint32_t gen) noexcept {
  try {
    launch_ack(slot_, gen, kReleased, work_stream_);  // the work queued after the wait
  } catch (...) {
    return kAborted;  // the owner sees no ack and reports the wait as aborted
  }
  // The ack kernel is one warp's three stores: this returns right behind the ack.
  return cudaStreamSynchronize(work_stream_) == cudaSuccess ? kReleased : kAborted;
}

void HostWaitThread::loop() {
  try {
    use_device(device_);
  } catch (...) {
    // No device: start() is never called in that case (the owner's constructor already failed).
  }
  uint32_t handled = 0;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || cmd_gen_ != handled; });
    if (stop_) return;
    const uint32_t gen = cmd_gen_;
    const int64_t timeout_ns = cmd_timeout_ns_;
    handled = gen;
    lock.unlock();

    const int64_t t0 = now_ns();
    const int64_t c0 = thread_cpu_ns();
    // A stream wait that could not be enqueued ends the wait as aborted (armed first, so that the
    // owner's arm() returns and its wait() collects the outcome).
    const bool enqueued = mode_ != HostWaitMode::kEventSync || enqueue_event_wait(gen);
    waiting_gen_.store(gen, std::memory_order_release);
    const uint32_t outcome = enqueued ? wait_for(gen, t0 + timeout_ns, t0) : kAborted;
    const int64_t t1 = now_ns();
    const uint32_t final_outcome = outcome == kReleased ? run_work(gen) : outcome;
    // The thread's CPU clock is a system call (~0.5 us): read after the launch, not between the
    // release and it. The launch and the work's wait run on this CPU, so their wall time is taken
    // off the CPU time.
    const int64_t c1 = thread_cpu_ns();
    const int64_t t2 = now_ns();
    done_.outcome = final_outcome;
    done_.observe_ns = t1;
    done_.cpu_ns = std::max<int64_t>(0, (c1 - c0) - (t2 - t1));
    done_.wall_ns = t1 - t0;
    done_gen_.store(gen, std::memory_order_release);
    const int64_t until = now_ns() + kCommandSpinNs;
    while (posted_gen_.load(std::memory_order_acquire) == handled && now_ns() < until) cpu_relax();
    lock.lock();
  }
}

}  // namespace wb
