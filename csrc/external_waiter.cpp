// SPDX-License-Identifier: Apache-2.0
// A device waiter whose kernel the caller launches at each arm (research strategies: a cupy, numba
// or NVRTC kernel written to protocol.hpp); arming, release, timing and deadlines are the core's.
#include <utility>

#include "release_flag.hpp"
#include "waiter_kinds.hpp"

namespace wb {
namespace {

class ExternalDeviceWaiter final : public Waiter {
 public:
  ExternalDeviceWaiter(const WaiterConfig& cfg, ExternalLauncher launch)
      : Waiter(cfg, cfg.blocks),
        flag_(cfg.flag == FlagLocation::kDevice, 1, control(), control_dev()),
        launch_(std::move(launch)) {}
  ~ExternalDeviceWaiter() override { shutdown(); }
  bool device_clock() const override { return true; }
  bool acks_relaxed() const override { return false; }  // the protocol's kernels write the ack last, with release
  std::map<std::string, int64_t> shape() const override { return {{"blocks", cfg_.blocks}}; }

 private:
  void start(uint32_t gen, int64_t timeout_ns) override {
    ExternalLaunch l{gen,
                     reinterpret_cast<uint64_t>(flag_.device_address()),
                     reinterpret_cast<uint64_t>(&control_dev()->abort),
                     reinterpret_cast<uint64_t>(slots_dev()),
                     static_cast<uint64_t>(timeout_ns),
                     reinterpret_cast<uint64_t>(stream_.get()),
                     cfg_.blocks};
    launch_(l);
  }
  void do_release(uint32_t gen) override { flag_.write(gen); }
  void do_abort() override {}
  bool poll_done(uint32_t gen, WaitResult* out) override { return poll_slots(gen, out); }

  ReleaseFlag flag_;
  ExternalLauncher launch_;
};

}  // namespace

std::unique_ptr<Waiter> make_external_waiter(const WaiterConfig& cfg, ExternalLauncher launch) {
  return std::make_unique<ExternalDeviceWaiter>(cfg, std::move(launch));
}

}  // namespace wb
