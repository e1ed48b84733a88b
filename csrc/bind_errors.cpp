// SPDX-License-Identifier: Apache-2.0
// host_errors.hpp's exceptions onto waitbench.errors, for both native modules: each failure keeps its
// own Python class (most derived first); the rest are pybind11's (std::invalid_argument: ValueError,
// other std::exception: RuntimeError).
#include <exception>

#include "bind.hpp"
#include "host_errors.hpp"

namespace wb {

namespace {

// Raises waitbench.errors.<name>(what): imported when an error is raised, never at import.
void raise_as(const char* name, const char* what) {
  PyErr_SetString(py::module_::import("waitbench.errors").attr(name).ptr(), what);
}

}  // namespace

void register_errors() {
  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const NoDeviceError& e) {
      raise_as("NoGpuError", e.what());
    } catch (const CudaError& e) {
      raise_as("CudaError", e.what());
    } catch (const WaitExpired& e) {
      raise_as("WaitExpired", e.what());
    } catch (const WaitError& e) {
      raise_as("WaitbenchError", e.what());
    }
  });
}

}  // namespace wb
