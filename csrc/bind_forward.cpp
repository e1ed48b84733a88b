// SPDX-License-Identifier: Apache-2.0
// waitbench._C, the dispatch benchmark's GPU side: the forward kernel that stamps %globaltimer as it
// starts, and the same-process floor that launches it from a hot thread. Waits release the GIL.
#include "bind.hpp"
#include "forward_stamp.hpp"

namespace wb {

void register_forward(py::module_& m) {
  py::class_<ForwardStamp>(m, "ForwardStamp", "A one-warp forward kernel stamping %globaltimer as it starts.")
      .def(py::init<int, int, int64_t>(), py::arg("device"), py::arg("capacity"), py::arg("work_ns") = 0)
      .def("launch", &ForwardStamp::launch, py::arg("index"), py::call_guard<py::gil_scoped_release>())
      .def("finish", &ForwardStamp::finish, py::arg("index"), py::arg("timeout_s"),
           py::call_guard<py::gil_scoped_release>());
  m.def(
      "forward_floor",
      [](int device, int n, int64_t gap_ns, double timeout_s) {
        ForwardFloor f;
        {
          py::gil_scoped_release nogil;
          f = forward_floor(device, n, gap_ns, timeout_s);
        }
        py::dict d;
        d["arrival_ns"] = to_array(f.arrival_ns);
        d["recv_ns"] = to_array(f.recv_ns);
        d["kernel_gt_ns"] = to_array(f.kernel_gt_ns);
        return d;
      },
      py::arg("device"), py::arg("n"), py::arg("gap_ns"), py::arg("timeout_s"),
      "n same-process hand-offs whose hot thread launches the stamping forward; host and device stamps.");
}

}  // namespace wb
