// SPDX-License-Identifier: Apache-2.0
// waitbench._C, the ack probe: the one-warp kernel a released barrier rank launches, and when its ack
// is seen (the barrier itself is host-only, in waitbench._host).
#include <memory>

#include "ack_probe.hpp"
#include "bind.hpp"

namespace wb {

void register_ack_probe(py::module_& m) {
  py::class_<AckProbe>(m, "AckProbe",
                       "A one-warp ack kernel a released barrier rank launches, and when its ack is seen.")
      .def(py::init([](int device) {
             py::gil_scoped_release nogil;
             return std::make_unique<AckProbe>(device);
           }),
           py::arg("device"))
      .def("fire", &AckProbe::fire, py::arg("timeout_s"), py::call_guard<py::gil_scoped_release>(),
           "Launch the ack kernel, spin until its ack is visible; the host time (now_ns) it was seen.");
}

}  // namespace wb
