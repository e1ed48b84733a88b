// SPDX-License-Identifier: Apache-2.0
// The work a barrier rank launches once released: a one-warp kernel that writes an ack into
// host-mapped memory (launch_ack, as every host-side wait's work), and the host time the ack is seen.
#pragma once

#include <cstdint>

#include "cuda_resources.hpp"

namespace wb {

class AckProbe {
 public:
  explicit AckProbe(int device);
  // Launches the ack kernel and spins until its ack is visible; returns that host time (now_ns).
  // Throws WaitError if the ack is not seen within timeout_s.
  int64_t fire(double timeout_s);

 private:
  int device_;
  MappedHostBuffer slot_;
  Stream stream_;
  uint32_t gen_ = 0;
};

}  // namespace wb
