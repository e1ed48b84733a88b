// SPDX-License-Identifier: Apache-2.0
// SideCall: one common CUDA call, prepared, made once and timed (see side_calls.hpp).
#include "side_calls.hpp"

#include <stdexcept>

#include "clock.hpp"
#include "common.hpp"

namespace wb {
namespace {

constexpr size_t kBytes = 64u << 20;  // what malloc/free move: a typical activation buffer

// Launched by "first-launch" only, so its first launch is the process's first: under lazy module
// loading (CUDA's default since 12.2) that launch loads the function.
__global__ void side_call_first_launch_kernel(int* out) {
  if (out != nullptr && threadIdx.x == 0) *out = 1;
}

}  // namespace

const std::vector<std::string>& side_call_names() {
  static const std::vector<std::string> names = {"cudaMalloc",       "cudaFree",     "cudaMallocHost",
                                                 "cudaStreamCreate", "first-launch", "cudaDeviceSynchronize"};
  return names;
}

SideCall::SideCall(const std::string& name, int device) : name_(name), device_(device) {
  bool known = false;
  for (const auto& n : side_call_names()) known = known || n == name;
  if (!known) throw std::invalid_argument("call='" + name + "' is invalid: expected a name from side_call_names()");
  use_device(device);
  if (name == "cudaFree") WB_CUDA(cudaMalloc(&device_ptr_, kBytes));
  if (name == "first-launch") WB_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

SideCall::~SideCall() {
  cudaSetDevice(device_);
  if (device_ptr_ != nullptr) cudaFree(device_ptr_);
  if (host_ptr_ != nullptr) cudaFreeHost(host_ptr_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

int64_t SideCall::run() {
  if (ran_) throw WaitError("a SideCall runs once: make a new one");
  ran_ = true;
  use_device(device_);
  if (name_ == "cudaMalloc") {
    WB_CUDA(cudaMalloc(&device_ptr_, kBytes));
  } else if (name_ == "cudaFree") {
    WB_CUDA(cudaFree(device_ptr_));
    device_ptr_ = nullptr;
  } else if (name_ == "cudaMallocHost") {
    WB_CUDA(cudaMallocHost(&host_ptr_, kBytes));
  } else if (name_ == "cudaStreamCreate") {
    WB_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  } else if (name_ == "first-launch") {
    side_call_first_launch_kernel<<<1, 32, 0, stream_>>>(nullptr);
    WB_CUDA(cudaGetLastError());
  } else {
    WB_CUDA(cudaDeviceSynchronize());
  }
  return now_ns();
}

}  // namespace wb
