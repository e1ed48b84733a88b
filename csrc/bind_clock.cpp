// SPDX-License-Identifier: Apache-2.0
// waitbench._host, the host clock: the one every timestamp waitbench takes, in C++ and in Python.
#include "bind.hpp"
#include "clock.hpp"

namespace wb {

void register_clock(py::module_& m) {
  m.def("now_ns", &now_ns, "Host CLOCK_MONOTONIC in ns: the clock of every host timestamp waitbench takes.");
}

}  // namespace wb
