// SPDX-License-Identifier: Apache-2.0
// Calibrated concurrent workloads with known work per launch, and waiting for a stream to go idle.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>

#include "cuda_resources.hpp"

namespace wb {

struct WorkloadInfo {
  std::string name;
  std::string work_unit;   // "flop" or "byte"
  double work_per_launch;  // flops or bytes moved (read + written) per launch
  int grid;
  int block;
  int regs_per_thread;
  int smem_bytes;
};

// fma:    FP32 FMA-bound kernel, 8 independent chains per thread; `size` = FMA iterations per chain.
// stream: memory-bound copy (16-byte loads and stores); `size` = bytes per buffer.
// memcpy: cudaMemcpyAsync device-to-device of `size` bytes: the bandwidth ceiling for `stream`.
class BuiltinWorkload {
 public:
  BuiltinWorkload(const std::string& name, int device, int64_t size);
  void enqueue(cudaStream_t stream, int launches) const;
  const WorkloadInfo& info() const { return info_; }
  // fma: the mean SM clock (MHz) its blocks ran at over the launches of the last enqueue() on
  // `stream` (clock64 cycles / %globaltimer ns, summed over blocks); waits for the stream. 0 for
  // the other workloads, which do not measure it.
  double held_clock_mhz(cudaStream_t stream) const;

 private:
  int device_;
  int64_t size_;
  WorkloadInfo info_;
  std::unique_ptr<DeviceBuffer> a_;
  std::unique_ptr<DeviceBuffer> b_;
  std::unique_ptr<DeviceBuffer> clock_acc_;       // fma: summed SM cycles, summed ns
  std::unique_ptr<MappedHostBuffer> clock_read_;  // where held_clock_mhz() copies them
};

// Records an event on `stream` and polls it: the host time the stream's queued work finished,
// or 0 if not within timeout_s. Used for work enqueued by others (torch, cupy, numba).
int64_t wait_stream_idle(cudaStream_t stream, double timeout_s);

}  // namespace wb
