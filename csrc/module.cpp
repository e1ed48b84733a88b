// SPDX-License-Identifier: Apache-2.0
// waitbench._C: a thin, coarse pybind11 module. No CUDA call happens at import. Every call that
// can block (arming, waiting, timing) releases the GIL, and returns plain values or numpy arrays.
// Each area registers its part (bind.hpp); python/waitbench/_C.pyi describes the whole.
#include <exception>

#include "bind.hpp"

namespace py = pybind11;
using namespace wb;

namespace {

py::object translate(const char* name) { return py::module_::import("waitbench.errors").attr(name); }

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "waitbench native core: wait strategies, wake-up timing and workloads (see waitbench/*.py).";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const NoDeviceError& e) {
      PyErr_SetString(translate("NoGpuError").ptr(), e.what());
    } catch (const WaitError& e) {
      PyErr_SetString(translate("WaitbenchError").ptr(), e.what());
    } catch (const CudaError& e) {
      PyErr_SetString(translate("WaitbenchError").ptr(), e.what());
    }
  });

  register_device(m);
  register_waiter(m);
  register_timing(m);
  register_workloads(m);
  register_barrier(m);
}
