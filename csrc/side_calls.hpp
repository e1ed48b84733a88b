// SPDX-License-Identifier: Apache-2.0
// Common CUDA calls a server makes while one of its GPUs waits in a collective for a late peer:
// which of them return at once, and which wait until the peer arrives (a server that frees memory
// while a peer is late freezes). Each call is prepared first (what it frees is allocated, what it
// launches is not yet loaded), then run once and timed; leftovers are freed on destruction.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

namespace wb {

// Names of the calls, in the order `waitbench nccl --calls all` runs them.
const std::vector<std::string>& side_call_names();

class SideCall {
 public:
  // Prepares `name` (one of side_call_names()) on `device`; std::invalid_argument for another name.
  SideCall(const std::string& name, int device);
  ~SideCall();
  SideCall(const SideCall&) = delete;
  SideCall& operator=(const SideCall&) = delete;
  // Makes the call once; returns host CLOCK_MONOTONIC ns at its return (the caller stamped its start).
  int64_t run();

 private:
  std::string name_;
  int device_;
  void* device_ptr_ = nullptr;     // freed by "cudaFree", or what "cudaMalloc" got
  void* host_ptr_ = nullptr;       // what "cudaMallocHost" got
  cudaStream_t stream_ = nullptr;  // what "cudaStreamCreate" made, or the stream of "first-launch"
  bool ran_ = false;
};

}  // namespace wb
