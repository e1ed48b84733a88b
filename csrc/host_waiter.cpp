// SPDX-License-Identifier: Apache-2.0
// The host-side waiters: a persistent thread of host_waits.cpp spins, yields, blocks on a futex or
// sits in cudaEventSynchronize, then enqueues the work; a watchdog bounds the event wait.
#include <memory>

#include "clock.hpp"
#include "common.hpp"
#include "host_waits.hpp"
#include "waiter_kinds.hpp"
#include "watchdog.hpp"

namespace wb {
namespace {

class HostWaiter final : public Waiter {
 public:
  HostWaiter(const WaiterConfig& cfg, HostWaitMode mode) : Waiter(cfg, 1), mode_(mode) {
    if (mode_ == HostWaitMode::kEventSync) {
      event_ = std::make_unique<Event>(cudaEventDisableTiming |
                                       (cfg.sync == EventSync::kBlocking ? cudaEventBlockingSync : cudaEventDefault));
      wait_stream_ = std::make_unique<Stream>();
    }
    const int64_t spin_ns = cfg.spin_us < 0 ? -1 : cfg.spin_us * 1000;
    EventWait event_wait;
    if (mode_ == HostWaitMode::kEventSync) event_wait = {wait_stream_->get(), event_->get(), &control_dev()->flag};
    thread_ = std::make_unique<HostWaitThread>(cfg.device, mode_, spin_ns, stream_.get(), slots_dev(), event_wait);
  }
  ~HostWaiter() override { shutdown(); }
  bool device_clock() const override { return false; }
  bool host_thread(pthread_t* out) const override {
    *out = thread_->native_handle();
    return true;
  }

 private:
  void start(uint32_t gen, int64_t timeout_ns) override {
    thread_->clear_interrupt();
    ack_ns_ = 0;
    if (mode_ == HostWaitMode::kEventSync) {
      watchdog_.arm(now_ns() + timeout_ns, [this, gen] {
        thread_->interrupt(kExpired);
        store_release(&control()->flag, gen);
      });
    }
    thread_->start(gen, timeout_ns);
  }
  bool is_armed(uint32_t gen) const override { return thread_->waiting(gen); }
  void do_release(uint32_t gen) override {
    if (mode_ == HostWaitMode::kEventSync) {
      watchdog_.cancel();
      store_release(&control()->flag, gen);
    } else {
      thread_->release(gen);
    }
  }
  void do_abort() override {
    thread_->interrupt(kAborted);
    if (mode_ == HostWaitMode::kEventSync) {
      watchdog_.cancel();
      store_release(&control()->flag, gen_);
    }
  }
  bool poll_done(uint32_t gen, WaitResult* out) override {
    // The ack is timed when first seen, even if the waiting thread has not yet said it is done.
    if (ack_ns_ == 0 && slots_acked(gen, 1)) ack_ns_ = now_ns();
    HostWaitDone d;
    if (!thread_->done(gen, &d)) return false;
    if (d.outcome == kReleased) {
      if (ack_ns_ == 0) return false;  // the work has not run yet
      settle(gen, 1);
    }
    out->ack_ns = ack_ns_ != 0 ? ack_ns_ : now_ns();
    out->status = d.outcome == kReleased ? "released" : d.outcome == kExpired ? "expired" : "aborted";
    out->host_observe_ns = d.observe_ns;
    out->wait_cpu_ns = d.cpu_ns;
    out->wait_wall_ns = d.wall_ns;
    out->wake_gt_ns = d.outcome == kReleased ? slots()[0].wake_gt : 0;
    return true;
  }
  void finish() override {}  // the waiting thread synchronized its work before it said done

  const HostWaitMode mode_;
  int64_t ack_ns_ = 0;  // host time the ack of the current wait was first seen (0: not yet)
  std::unique_ptr<Event> event_;
  std::unique_ptr<Stream> wait_stream_;
  Watchdog watchdog_;
  std::unique_ptr<HostWaitThread> thread_;  // last: joined before the objects it uses go away
};

}  // namespace

std::unique_ptr<Waiter> make_host_waiter(const WaiterConfig& cfg, HostWaitMode mode) {
  return std::make_unique<HostWaiter>(cfg, mode);
}

}  // namespace wb
