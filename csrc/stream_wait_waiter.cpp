// SPDX-License-Identifier: Apache-2.0
// The front-end waiter: the stream blocks in cuStreamWaitValue32 (stream_waits.cpp, no SM) until the
// flag is written, then runs the ack kernel; a watchdog writes the flag at the deadline.
#include <atomic>

#include "clock.hpp"
#include "common.hpp"
#include "device_waits.hpp"
#include "release_flag.hpp"
#include "stream_waits.hpp"
#include "waiter_kinds.hpp"
#include "watchdog.hpp"

namespace wb {
namespace {

class StreamWaitValueWaiter final : public Waiter {
 public:
  explicit StreamWaitValueWaiter(const WaiterConfig& cfg)
      : Waiter(cfg, 1),
        flag_(cfg.flag == FlagLocation::kDevice, 1, control(), control_dev()) {}
  ~StreamWaitValueWaiter() override { shutdown(); }
  bool device_clock() const override { return true; }

 private:
  void start(uint32_t gen, int64_t timeout_ns) override {
    interrupted_.store(kPending);
    // The armed marker is a front-end write, as the wait itself: no kernel, no SM.
    enqueue_write_value(stream_.get(), &slots_dev()[0].armed, gen);
    enqueue_wait_value(stream_.get(), flag_.device_address(), gen);
    launch_ack(slots_dev(), gen, kReleased, stream_.get());
    const int device = cfg_.device;
    watchdog_.arm(now_ns() + timeout_ns, [this, gen, device] {
      uint32_t expected = kPending;
      interrupted_.compare_exchange_strong(expected, kExpired);
      use_device(device);
      flag_.write(gen);
    });
  }
  void do_release(uint32_t gen) override {
    watchdog_.cancel();
    flag_.write(gen);
  }
  void do_abort() override {
    uint32_t expected = kPending;
    interrupted_.compare_exchange_strong(expected, kAborted);
    watchdog_.cancel();
    flag_.write(gen_);
  }
  bool poll_done(uint32_t gen, WaitResult* out) override {
    if (!slots_acked(gen, 1)) return false;
    out->ack_ns = now_ns();
    settle(gen, 1);
    out->wake_gt_ns = slots()[0].wake_gt;
    watchdog_.cancel();  // returns once a deadline that fired at the same moment has said so
    const uint32_t why = interrupted_.load();
    out->status = why == kPending ? "released" : why == kExpired ? "expired" : "aborted";
    return true;
  }

  ReleaseFlag flag_;
  std::atomic<uint32_t> interrupted_{kPending};
  Watchdog watchdog_;
};

}  // namespace

std::unique_ptr<Waiter> make_stream_wait_value_waiter(const WaiterConfig& cfg) {
  return std::make_unique<StreamWaitValueWaiter>(cfg);
}

}  // namespace wb
