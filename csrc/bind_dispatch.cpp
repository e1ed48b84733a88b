// SPDX-License-Identifier: Apache-2.0
// waitbench._C, dispatch (host-only): the shared-memory dispatch ring and its waits, the CPU wait
// instructions this machine exposes, and the same-process hand-off floor. Every wait releases the GIL.
#include <algorithm>
#include <vector>

#include "bind.hpp"
#include "cpu_waits.hpp"
#include "dispatch_ring.hpp"
#include "handoff_floor.hpp"

namespace wb {

namespace py = pybind11;

namespace {
py::array_t<int64_t> int64_array(const std::vector<int64_t>& v) {
  py::array_t<int64_t> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

py::dict support_dict(const CpuWaitSupport& s) {
  py::dict d;
  d["available"] = s.available;
  d["reason"] = s.reason;
  return d;
}
}  // namespace

void register_dispatch(py::module_& m) {
  py::enum_<RingWait>(m, "RingWait", "How a rank waits on the dispatch ring (csrc/dispatch_ring.hpp).")
      .value("YIELD", RingWait::kYield)
      .value("SLEEP", RingWait::kSleep)
      .value("FUTEX", RingWait::kFutex)
      .value("PAUSE", RingWait::kPause)
      .value("MWAITX", RingWait::kMwaitx)
      .value("UMWAIT", RingWait::kUmwait)
      .value("ADAPTIVE", RingWait::kAdaptive);
  py::class_<DispatchRing>(m, "DispatchRing", "Rank 0 hands each request to every rank through shared memory.")
      .def(py::init<const std::string&, int, bool>(), py::arg("name"), py::arg("ranks"), py::arg("create"))
      .def_property_readonly("ranks", &DispatchRing::ranks)
      .def("unlink", &DispatchRing::unlink)
      .def("publish", &DispatchRing::publish, py::arg("seq"), py::arg("arrival_ns"),
           py::call_guard<py::gil_scoped_release>())
      .def(
          "wait",
          [](DispatchRing& ring, uint32_t seq, RingWait how, int64_t param, double timeout_s) {
            RingWaitResult r;
            {
              py::gil_scoped_release nogil;
              r = ring.wait(seq, how, param, timeout_s);
            }
            return py::make_tuple(r.outcome, r.recv_ns, r.arrival_ns, r.cpu_ns, r.wall_ns, r.woke_cpu, r.off_cpu);
          },
          py::arg("seq"), py::arg("how"), py::arg("param"), py::arg("timeout_s"),
          "(outcome, recv_ns, arrival_ns, cpu_ns, wall_ns, woke_cpu, off_cpu) of one wait for request seq.")
      .def("ack", &DispatchRing::ack, py::arg("rank"), py::arg("seq"))
      .def("wait_acks", &DispatchRing::wait_acks, py::arg("seq"), py::arg("sender"), py::arg("timeout_s"),
           py::call_guard<py::gil_scoped_release>())
      .def("sleep_until", &DispatchRing::sleep_until, py::arg("t_ns"), py::call_guard<py::gil_scoped_release>())
      .def("abort", &DispatchRing::abort)
      .def_property_readonly("aborted", &DispatchRing::aborted);
  m.def(
      "mwaitx_support", [] { return support_dict(mwaitx_support()); },
      "{'available': bool, 'reason': str}: can user code run MONITORX/MWAITX here.");
  m.def(
      "umwait_support", [] { return support_dict(umwait_support()); },
      "{'available': bool, 'reason': str}: can user code run UMONITOR/UMWAIT here.");
  m.def("cpu_model", &cpu_model, "The CPUID brand string.");
  m.def(
      "handoff_floor",
      [](int n, int64_t gap_ns, double timeout_s) {
        HandoffSamples s;
        {
          py::gil_scoped_release nogil;
          s = handoff_floor(n, gap_ns, timeout_s);
        }
        py::dict d;
        d["arrival_ns"] = int64_array(s.arrival_ns);
        d["recv_ns"] = int64_array(s.recv_ns);
        return d;
      },
      py::arg("n"), py::arg("gap_ns"), py::arg("timeout_s"),
      "n same-process hand-offs (one atomic store, a hot pause-spinning thread sees it), timed in C++.");
}

}  // namespace wb
