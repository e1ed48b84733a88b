// SPDX-License-Identifier: Apache-2.0
// One-warp ack launch for barrier ranks (see ack_probe.hpp).
#include "ack_probe.hpp"

#include <string>

#include "clock.hpp"
#include "common.hpp"
#include "device_waits.hpp"
#include "protocol.hpp"

namespace wb {
namespace {

int on_device(int device) {
  use_device(device);
  return device;
}

}  // namespace

AckProbe::AckProbe(int device) : device_(on_device(device)), slot_(sizeof(BlockSlot)), stream_() {}

int64_t AckProbe::fire(double timeout_s) {
  use_device(device_);
  if (++gen_ == 0) ++gen_;
  auto* slot = static_cast<BlockSlot*>(slot_.host());
  launch_ack(static_cast<BlockSlot*>(slot_.device()), gen_, kReleased, stream_.get());
  const int64_t limit = now_ns() + static_cast<int64_t>(timeout_s * 1e9);
  while (load_acquire(&slot->ack) != gen_) {
    if (now_ns() > limit) {
      throw WaitError("the ack kernel did not run within " + std::to_string(timeout_s) + " s");
    }
    cpu_relax();
  }
  const int64_t seen = now_ns();
  WB_CUDA(cudaStreamSynchronize(stream_.get()));
  return seen;
}

}  // namespace wb
