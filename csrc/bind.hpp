// SPDX-License-Identifier: Apache-2.0
// The parts of waitbench._C, one register_* function per area (module.cpp calls them in turn), and
// what more than one of them shares. Only the bind_*.cpp files and module.cpp include pybind11.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "bind_host.hpp"
#include "common.hpp"
#include "waiter.hpp"

namespace wb {

namespace py = pybind11;

void register_device(py::module_& m);     // bind_device.cpp: host clock, devices
void register_waiter(py::module_& m);     // bind_waiter.cpp: protocol constants, WaiterConfig, Waiter
void register_timing(py::module_& m);     // bind_timing.cpp: wake-up trials, clock calibration, floor
void register_workloads(py::module_& m);  // bind_workloads.cpp: streams, workloads, side calls
void register_barrier(py::module_& m);    // bind_barrier.cpp: the cross-process barrier, its ack probe
void register_forward(py::module_& m);    // bind_forward.cpp: the stamping forward kernel, its floor

// Owns a Waiter so Python can close it deterministically (the destructor aborts a live wait).
struct PyWaiter {
  std::unique_ptr<Waiter> impl;
  Waiter& get() {
    if (!impl) throw WaitError("the waiter is closed");
    return *impl;
  }
};

template <typename T>
py::array_t<T> to_array(const std::vector<T>& v) {
  py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

}  // namespace wb
