// SPDX-License-Identifier: Apache-2.0
// Where a device waiter's release word(s) live, and how a release reaches them: one word, or
// (per-poller lines) one word every kLineWords for each poller, all written with the generation at
// a release. Host-mapped pinned memory (as NCCL over PCIe/SHM) or device memory (as a peer over NVLink).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common.hpp"
#include "cuda_resources.hpp"
#include "protocol.hpp"
#include "stream_waits.hpp"

namespace wb {

constexpr size_t kLineWords = 4;  // 16-byte lines, as NCCL LL's
constexpr size_t kMaxFlagWords = 1u << 22;

class ReleaseFlag {
 public:
  // `words` release words (1: the control block's flag word when on the host); `on_device` puts
  // them in device memory, written from a dedicated high-priority stream.
  ReleaseFlag(bool on_device, size_t words, ControlWords* host_words, ControlWords* dev_words);

  const uint32_t* device_address() const {
    if (word_) return static_cast<const uint32_t*>(word_->get());
    return lines_ ? static_cast<const uint32_t*>(lines_->device()) : &dev_words_->flag;
  }
  void write(uint32_t gen) const {
    if (word_ && words_ == 1) {
      enqueue_write_value(stream_->get(), static_cast<uint32_t*>(word_->get()), gen);
      return;
    }
    uint32_t* host = lines_ ? static_cast<uint32_t*>(lines_->host()) : &host_words_->flag;
    for (size_t i = 0; i < words_; ++i) store_release(host + i, gen);
    if (word_) {  // device lines: one copy of the staged words (the previous copy ended before the ack)
      WB_CUDA(cudaMemcpyAsync(word_->get(), host, words_ * sizeof(uint32_t), cudaMemcpyHostToDevice, stream_->get()));
    }
  }

 private:
  size_t words_;
  ControlWords* host_words_;
  ControlWords* dev_words_;
  std::unique_ptr<MappedHostBuffer> lines_;  // per-poller words in host-mapped memory (or the staging copy)
  std::unique_ptr<DeviceBuffer> word_;
  std::unique_ptr<Stream> stream_;
};

}  // namespace wb
