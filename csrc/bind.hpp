// SPDX-License-Identifier: Apache-2.0
// The parts of the two native modules, one register_* function per area, and what more than one of
// them shares: waitbench._host (host_module.cpp: no CUDA, built everywhere) and waitbench._C
// (module.cpp: the CUDA core, built where a CUDA compiler is found). Host-only: no CUDA header here.
// Only the bind_*.cpp files and the two module files include pybind11.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <vector>

namespace wb {

namespace py = pybind11;

// waitbench._host
void register_clock(py::module_& m);     // bind_clock.cpp: the host clock every timestamp is taken on
void register_barrier(py::module_& m);   // bind_barrier.cpp: the cross-process barrier
void register_dispatch(py::module_& m);  // bind_dispatch.cpp: the dispatch ring, CPU waits, hand-off floor

// Both: host_errors.hpp's exceptions onto waitbench.errors (bind_errors.cpp).
void register_errors();

// waitbench._C
void register_device(py::module_& m);     // bind_device.cpp: devices, the CUDA versions
void register_waiter(py::module_& m);     // bind_waiter.cpp: protocol constants, WaiterConfig, Waiter
void register_timing(py::module_& m);     // bind_timing.cpp: wake-up trials, clock calibration, floor
void register_workloads(py::module_& m);  // bind_workloads.cpp: streams, workloads, side calls
void register_ack_probe(py::module_& m);  // bind_ack_probe.cpp: the ack a released barrier rank launches
void register_forward(py::module_& m);    // bind_forward.cpp: the stamping forward kernel, its floor

template <typename T>
py::array_t<T> to_array(const std::vector<T>& v) {
  py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

}  // namespace wb
