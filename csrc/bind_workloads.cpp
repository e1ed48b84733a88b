// SPDX-License-Identifier: Apache-2.0
// waitbench._C, work beside a waiter: streams, the built-in workloads, and the common CUDA calls
// timed while a collective waits (waitbench nccl --calls).
#include <pybind11/stl.h>

#include "bind.hpp"
#include "common.hpp"
#include "cuda_resources.hpp"
#include "side_calls.hpp"
#include "workloads.hpp"

namespace wb {

void register_workloads(py::module_& m) {
  py::class_<Stream>(m, "Stream", "A non-blocking CUDA stream owned by waitbench (handle: for torch/cupy/numba).")
      .def(py::init([](int device, int priority) {
             use_device(device);
             return std::make_unique<Stream>(priority);
           }),
           py::arg("device"), py::arg("priority") = 0)
      .def_property_readonly("handle", [](const Stream& s) { return reinterpret_cast<uintptr_t>(s.get()); });
  m.def(
      "wait_stream_idle",
      [](uintptr_t handle, int device, double timeout_s) {
        use_device(device);
        return wait_stream_idle(reinterpret_cast<cudaStream_t>(handle), timeout_s);
      },
      py::arg("handle"), py::arg("device"), py::arg("timeout_s"), py::call_guard<py::gil_scoped_release>(),
      "Host time (now_ns) at which the stream's queued work finished, or 0 if not within timeout_s.");

  py::class_<BuiltinWorkload>(m, "Workload", "A built-in workload with known work per launch.")
      .def(py::init([](const std::string& name, int device, int64_t size) {
             py::gil_scoped_release nogil;
             return std::make_unique<BuiltinWorkload>(name, device, size);
           }),
           py::arg("name"), py::arg("device"), py::arg("size"))
      .def("info",
           [](const BuiltinWorkload& w) {
             const WorkloadInfo& i = w.info();
             py::dict r;
             r["name"] = i.name;
             r["work_unit"] = i.work_unit;
             r["work_per_launch"] = i.work_per_launch;
             r["grid"] = i.grid;
             r["block"] = i.block;
             r["regs_per_thread"] = i.regs_per_thread;
             r["smem_bytes"] = i.smem_bytes;
             return r;
           })
      .def(
          "enqueue",
          [](const BuiltinWorkload& w, uintptr_t stream, int launches) {
            w.enqueue(reinterpret_cast<cudaStream_t>(stream), launches);
          },
          py::arg("stream"), py::arg("launches"), py::call_guard<py::gil_scoped_release>())
      .def(
          "held_clock_mhz",
          [](const BuiltinWorkload& w, uintptr_t stream) {
            return w.held_clock_mhz(reinterpret_cast<cudaStream_t>(stream));
          },
          py::arg("stream"), py::call_guard<py::gil_scoped_release>(),
          "fma: SM clock (MHz) its blocks held during the last enqueue on `stream` (0: not measured).");

  // Common calls made while a collective waits (waitbench nccl --calls): prepare, run once, timed.
  m.def("side_call_names", &side_call_names, "Names of the calls SideCall can make.");
  py::class_<SideCall>(m, "SideCall", "One common CUDA call, prepared on construction and made once by run().")
      .def(py::init([](const std::string& name, int device) {
             py::gil_scoped_release nogil;
             return std::make_unique<SideCall>(name, device);
           }),
           py::arg("name"), py::arg("device"))
      .def("run", &SideCall::run, py::call_guard<py::gil_scoped_release>(),
           "Make the call; returns now_ns() at its return.");
}

}  // namespace wb
