// SPDX-License-Identifier: Apache-2.0
// Error handling shared by the native core: every CUDA call is checked, and each failure has its
// own exception, which the module maps onto one of waitbench.errors (csrc/module.cpp): "no usable
// GPU" becomes one clear line, a wait past its deadline can be told from a broken one.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace wb {

// No device, no driver, or a driver older than the runtime: Python maps it to NoGpuError.
struct NoDeviceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Any other failed CUDA call, with the call and the runtime's message: Python's CudaError.
struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A wait that could not be set up or completed: used out of order, not ended within the time the
// caller gave it, or a GPU answer that never came (not a bad argument: those are
// std::invalid_argument, which pybind11 maps to ValueError). Python's WaitbenchError.
struct WaitError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A waiter whose own deadline (timeout_s) passed before it got where it had to (resident, for
// arm()); it was aborted. Python's WaitExpired.
struct WaitExpired : WaitError {
  using WaitError::WaitError;
};

[[noreturn]] void throw_cuda(cudaError_t err, const char* call, const char* file, int line);

// Sets the calling thread's current device: CUDA's current device is per thread, and waiter
// threads, Python threads and the watchdog may all touch the same waiter.
void use_device(int device);

}  // namespace wb

#define WB_CUDA(call)                                                                 \
  do {                                                                                \
    cudaError_t wb_err_ = (call);                                                     \
    if (wb_err_ != cudaSuccess) ::wb::throw_cuda(wb_err_, #call, __FILE__, __LINE__); \
  } while (0)
