// SPDX-License-Identifier: Apache-2.0
// The "forward" a dispatched request starts on each rank: a one-warp kernel that stamps %globaltimer
// as it starts (into host-mapped memory), then works for work_ns. The dispatch latency of a request is
// that stamp, mapped to the host clock (calibrate_clock), minus its arrival on rank 0.
#pragma once

#include <cstdint>
#include <vector>

#include "cuda_resources.hpp"

namespace wb {

class ForwardStamp {
 public:
  ForwardStamp(int device, int capacity, int64_t work_ns);
  // Enqueues the forward for request `index` (0 <= index < capacity) on this object's stream.
  void launch(int index);
  // Waits (polling, at most timeout_s) for that forward to finish; returns its start (%globaltimer ns).
  // Throws WaitError past the deadline.
  uint64_t finish(int index, double timeout_s);
  int device() const { return device_; }

 private:
  int device_;
  int capacity_;
  int64_t work_ns_;
  MappedHostBuffer stamps_;
  Stream stream_;
};

struct ForwardFloor {
  std::vector<int64_t> arrival_ns;    // the store (host clock)
  std::vector<int64_t> recv_ns;       // the hot thread saw it (host clock)
  std::vector<int64_t> kernel_gt_ns;  // the forward's start (%globaltimer)
};

// The same-process hand-off floor with the forward: a hot thread launches it (handoff_floor.hpp).
ForwardFloor forward_floor(int device, int n, int64_t gap_ns, double timeout_s);

}  // namespace wb
