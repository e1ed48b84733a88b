// SPDX-License-Identifier: Apache-2.0
// The barrier part of waitbench._host: the cross-process futex barrier (no CUDA). Thin: Python
// (waitbench.barrier) validates, names errors and owns the public API.
#include <pybind11/stl.h>

#include <cerrno>
#include <memory>
#include <system_error>

#include "bind.hpp"
#include "host_barrier.hpp"

namespace wb {
namespace {

// Owns a SharedBarrier so Python can close it deterministically (unmap, free its rank).
struct PyBarrier {
  std::unique_ptr<SharedBarrier> impl;
  SharedBarrier& get() {
    if (!impl) throw std::runtime_error("the barrier handle is closed");
    return *impl;
  }
};

// create/open with the GIL released; a failing system call becomes the matching OSError subclass
// (FileExistsError, FileNotFoundError, PermissionError, ENOSPC...) carrying the C++ message, which
// says what is wrong; a segment that is not a valid barrier is a ValueError (std::invalid_argument).
template <typename F>
PyBarrier make(const std::string& name, F&& f) {
  int err = 0;
  std::string what;
  std::unique_ptr<SharedBarrier> b;
  {
    py::gil_scoped_release nogil;
    try {
      b = f();
    } catch (const std::system_error& e) {
      err = e.code().value();
      what = e.what();
    }
  }
  if (err) {
    // OSError(errno, text, filename) picks the subclass from errno, as PyErr_SetFromErrno does.
    const std::string text = what.substr(0, what.rfind(": "));  // system_error appends strerror: keep ours
    py::object exc = py::reinterpret_borrow<py::object>(PyExc_OSError)(err, text, "/dev/shm/" + name);
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    throw py::error_already_set();
  }
  return PyBarrier{std::move(b)};
}

}  // namespace

void register_barrier(py::module_& m) {
  m.attr("BARRIER_MAX_PARTIES") = kBarrierMaxParties;

  py::class_<PyBarrier>(m, "SharedBarrier", "A cross-process futex barrier in POSIX shared memory.")
      .def_static(
          "create",
          [](const std::string& name, int parties) {
            return make(name, [&] { return SharedBarrier::create(name, parties); });
          },
          py::arg("name"), py::arg("parties"))
      .def_static(
          "open", [](const std::string& name) { return make(name, [&] { return SharedBarrier::open(name); }); },
          py::arg("name"))
      .def_static("unlink", &SharedBarrier::unlink, py::arg("name"), py::call_guard<py::gil_scoped_release>(),
                  "Remove the name if this process created the segment it names; False if nothing was removed.")
      .def_static("creator", &SharedBarrier::creator, py::arg("name"),
                  "(pid of the process that created barrier `name`, whether it is alive); (0, False) if none.")
      .def(
          "claim", [](PyBarrier& b, int rank) { return b.get().claim(rank); }, py::arg("rank"),
          py::call_guard<py::gil_scoped_release>())
      .def(
          "wait",
          [](PyBarrier& b, int64_t timeout_ns, int64_t spin_ns) {
            SharedBarrier& impl = b.get();
            // Asked at every liveness check and on EINTR: Ctrl-C ends the wait and breaks the barrier.
            const std::function<bool()> interrupted = [] {
              py::gil_scoped_acquire gil;
              return PyErr_CheckSignals() != 0;
            };
            BarrierWaitResult r;
            {
              py::gil_scoped_release nogil;
              r = impl.wait(timeout_ns, spin_ns, interrupted);
            }
            if (PyErr_Occurred()) throw py::error_already_set();
            return py::make_tuple(r.status, r.index, r.generation, r.release_ns, r.wake_ns, r.cpu_ns, r.wall_ns);
          },
          py::arg("timeout_ns"), py::arg("spin_ns"),
          "Arrive and wait (GIL released): (status, index, generation, release_ns, wake_ns, cpu_ns, wall_ns).")
      .def(
          "abort", [](PyBarrier& b) { b.get().abort(); }, py::call_guard<py::gil_scoped_release>())
      .def(
          "reset", [](PyBarrier& b) { b.get().reset(); }, py::call_guard<py::gil_scoped_release>())
      .def("broken",
           [](PyBarrier& b) {
             const BarrierBrokenInfo i = b.get().broken();
             py::dict d;
             d["reason"] = i.reason;
             d["by_rank"] = i.by_rank;
             d["generation"] = i.generation;
             d["dead_rank"] = i.dead_rank;
             d["dead_pid"] = i.dead_pid;
             d["missing"] = i.missing;
             d["pids"] = i.pids;
             return d;
           })
      .def("close",
           [](PyBarrier& b) {
             py::gil_scoped_release nogil;
             b.impl.reset();
           })
      .def_property_readonly("closed", [](PyBarrier& b) { return !b.impl; })
      .def_property_readonly("parties", [](PyBarrier& b) { return b.get().parties(); })
      .def_property_readonly("rank", [](PyBarrier& b) { return b.get().rank(); })
      .def_property_readonly("n_waiting", [](PyBarrier& b) { return b.get().n_waiting(); });
}

}  // namespace wb
