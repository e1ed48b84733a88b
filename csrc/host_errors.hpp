// SPDX-License-Identifier: Apache-2.0
// The native core's exceptions, host-only (no CUDA header), so host-only code throws the same types
// the module maps onto waitbench.errors (csrc/module.cpp); common.hpp adds the CUDA checks.
#pragma once

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

}  // namespace wb
