// SPDX-License-Identifier: Apache-2.0
// Error handling shared by the native core: every CUDA call is checked, and "no usable GPU" is
// its own exception so Python can turn it into one clear line.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace wb {

// No device, no driver, or a driver older than the runtime: Python maps it to NoGpuError.
struct NoDeviceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Any other failed CUDA call, with the call and the runtime's message.
struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A wait that could not be set up or completed in time (not a bad argument: those are
// std::invalid_argument, which pybind11 maps to ValueError).
struct WaitError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_cuda(cudaError_t err, const char* call, const char* file, int line);

// Sets the calling thread's current device: CUDA's current device is per thread, and waiter
// threads, Python threads and the watchdog may all touch the same waiter.
void use_device(int device);

}  // namespace wb

#define WB_CUDA(call)                                                   \
  do {                                                                  \
    cudaError_t wb_err_ = (call);                                       \
    if (wb_err_ != cudaSuccess) ::wb::throw_cuda(wb_err_, #call, __FILE__, __LINE__); \
  } while (0)
