// SPDX-License-Identifier: Apache-2.0
// The release word(s) of a device waiter (see release_flag.hpp).
#include "release_flag.hpp"

#include <stdexcept>
#include <string>

namespace wb {
namespace {

int greatest_priority() {
  int least = 0, greatest = 0;
  WB_CUDA(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  return greatest;
}

}  // namespace

ReleaseFlag::ReleaseFlag(bool on_device, size_t words, ControlWords* host_words, ControlWords* dev_words)
    : words_(words),
      host_words_(host_words),
      dev_words_(dev_words) {
  if (words_ == 0 || words_ > kMaxFlagWords) {
    throw std::invalid_argument("flag_lines: " + std::to_string(words_) + " flag words are invalid: expected [1, " +
                                std::to_string(kMaxFlagWords) + "] (fewer blocks x pollers)");
  }
  if (words_ > 1) lines_ = std::make_unique<MappedHostBuffer>(words_ * sizeof(uint32_t));
  if (on_device) {
    word_ = std::make_unique<DeviceBuffer>(words_ * sizeof(uint32_t));
    // A dedicated high-priority stream: its write is not queued behind the waiter's own stream.
    stream_ = std::make_unique<Stream>(greatest_priority());
  }
}

}  // namespace wb
