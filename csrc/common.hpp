// SPDX-License-Identifier: Apache-2.0
// Error handling shared by the native core: every CUDA call is checked, and each failure has its
// own exception, which the module maps onto one of waitbench.errors (csrc/module.cpp): "no usable
// GPU" becomes one clear line, a wait past its deadline can be told from a broken one.
#pragma once

#include <cuda_runtime.h>

#include "host_errors.hpp"

namespace wb {

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
