// SPDX-License-Identifier: Apache-2.0
// waitbench._C: a thin, coarse pybind11 module. No CUDA call happens at import. Every call that
// can block (arming, waiting, timing) releases the GIL, and returns plain values or numpy arrays.
// Each area registers its part (bind.hpp); python/waitbench/_C.pyi describes the whole.
#include <exception>

#include "bind.hpp"

namespace py = pybind11;
using namespace wb;

namespace {

// Raises waitbench.errors.<name>(what): imported when an error is raised, never at import.
void raise_as(const char* name, const char* what) {
  PyErr_SetString(py::module_::import("waitbench.errors").attr(name).ptr(), what);
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "waitbench native core: wait strategies, wake-up timing and workloads (see waitbench/*.py).";

  // common.hpp's exceptions, each onto its own waitbench.errors class (most derived first); the
  // rest are pybind11's (std::invalid_argument: ValueError, other std::exception: RuntimeError).
  py::register_exception_translator([](std::exception_ptr p) {
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

  register_device(m);
  register_waiter(m);
  register_timing(m);
  register_workloads(m);
  register_barrier(m);
  register_forward(m);
  register_dispatch(m);
}
