// SPDX-License-Identifier: Apache-2.0
// waitbench._C, wake-up timing: trials of a waiter, the host <-> %globaltimer calibration, the timer's
// resolution and the launch floor, each timed in C++ with the GIL released (raw numpy arrays out).
#include "bind_waiter.hpp"
#include "wake_latency.hpp"

namespace wb {

void register_timing(py::module_& m) {
  m.def(
      "run_trials",
      [](PyWaiter& w, int n, int64_t gap_ns) {
        TrialSamples s;
        {
          py::gil_scoped_release nogil;
          s = run_trials(w.get(), n, gap_ns);
        }
        py::dict r;
        r["release_ns"] = to_array(s.release_ns);
        r["ack_ns"] = to_array(s.ack_ns);
        r["wake_gt_ns"] = to_array(s.wake_gt_ns);
        r["host_observe_ns"] = to_array(s.host_observe_ns);
        r["wait_cpu_ns"] = to_array(s.wait_cpu_ns);
        r["wait_wall_ns"] = to_array(s.wait_wall_ns);
        r["outcome"] = to_array(s.outcome);
        return r;
      },
      py::arg("waiter"), py::arg("n"), py::arg("gap_ns"),
      "n trials of arm -> gap -> release -> wait, timed in C++; raw host/device timestamps per trial. "
      "This thread and a host waiter's thread run each on its own core during the trials.");
  m.def(
      "calibrate_clock",
      [](int device, int pings) {
        ClockCalibration c;
        {
          py::gil_scoped_release nogil;
          c = calibrate_clock(device, pings);
        }
        py::dict r;
        r["host_ns"] = c.host_ns;
        r["offset_ns"] = c.offset_ns;
        r["uncertainty_ns"] = c.uncertainty_ns;
        return r;
      },
      py::arg("device"), py::arg("pings") = 200);
  m.def("timer_resolution_ns", &timer_resolution_ns, py::arg("device"), py::call_guard<py::gil_scoped_release>());
  m.def(
      "launch_floor",
      [](int device, int n) {
        std::vector<int64_t> v;
        {
          py::gil_scoped_release nogil;
          v = launch_floor(device, n);
        }
        return to_array(v);
      },
      py::arg("device"), py::arg("n"));
}

}  // namespace wb
