// SPDX-License-Identifier: Apache-2.0
// waitbench._C: a thin, coarse pybind11 module. No CUDA call happens at import. Every call that
// can block (arming, waiting, timing) releases the GIL, and returns plain values or numpy arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <stdexcept>

#include "clock.hpp"
#include "common.hpp"
#include "device_info.hpp"
#include "device_waits.hpp"
#include "flags.hpp"
#include "protocol.hpp"
#include "side_calls.hpp"
#include "wake_latency.hpp"
#include "waiter.hpp"
#include "workloads.hpp"

namespace py = pybind11;
using namespace wb;

void register_barrier(py::module_& m);  // bind_barrier.cpp: the cross-process barrier and its ack probe

namespace {

template <typename T>
py::array_t<T> to_array(const std::vector<T>& v) {
  py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

// Owns a Waiter so Python can close it deterministically (the destructor aborts a live wait).
struct PyWaiter {
  std::unique_ptr<Waiter> impl;
  Waiter& get() {
    if (!impl) throw WaitError("the waiter is closed");
    return *impl;
  }
};

py::dict result_dict(const WaitResult& r) {
  py::dict d;
  d["status"] = r.status;
  d["release_ns"] = r.release_ns;
  d["ack_ns"] = r.ack_ns;
  d["wake_gt_ns"] = r.wake_gt_ns;
  d["host_observe_ns"] = r.host_observe_ns;
  d["wait_cpu_ns"] = r.wait_cpu_ns;
  d["wait_wall_ns"] = r.wait_wall_ns;
  return d;
}

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

  // Protocol constants: the one source of truth shared with Python.
  m.attr("OUTCOME_PENDING") = static_cast<int>(kPending);
  m.attr("OUTCOME_RELEASED") = static_cast<int>(kReleased);
  m.attr("OUTCOME_EXPIRED") = static_cast<int>(kExpired);
  m.attr("OUTCOME_ABORTED") = static_cast<int>(kAborted);
  m.attr("BLOCK_SLOT_BYTES") = static_cast<int>(sizeof(BlockSlot));
  m.attr("CONTROL_WORDS_BYTES") = static_cast<int>(sizeof(ControlWords));
  m.attr("REGISTER_VARIANTS") = std::vector<int>(std::begin(kRegisterVariants), std::end(kRegisterVariants));

  m.def("spin_kernel_info",
        [](int device, int registers) {
          use_device(device);
          const KernelInfo k = spin_kernel_info(registers);
          py::dict r;
          r["regs_per_thread"] = k.regs_per_thread;
          r["static_smem_bytes"] = k.static_smem_bytes;
          r["max_threads_per_block"] = k.max_threads_per_block;
          return r;
        },
        py::arg("device"), py::arg("registers"),
        "Resources of the spin kernel variant compiled for `registers`, as loaded on `device`.");
  m.def("now_ns", &now_ns, "Host CLOCK_MONOTONIC in ns: the clock of every host timestamp waitbench takes.");
  m.def("device_count", &device_count, "Number of CUDA devices; raises NoGpuError without a usable driver.");
  m.def("device_info", [](int index) {
    const DeviceInfo d = device_info(index);
    py::dict r;
    r["index"] = d.index;
    r["name"] = d.name;
    r["uuid"] = d.uuid;
    r["pci_bus_id"] = d.pci_bus_id;
    r["sm_count"] = d.sm_count;
    r["cc_major"] = d.cc_major;
    r["cc_minor"] = d.cc_minor;
    r["max_threads_per_block"] = d.max_threads_per_block;
    r["max_threads_per_sm"] = d.max_threads_per_sm;
    r["max_blocks_per_sm"] = d.max_blocks_per_sm;
    r["regs_per_sm"] = d.regs_per_sm;
    r["smem_per_sm"] = d.smem_per_sm;
    r["smem_optin_per_block"] = d.smem_optin_per_block;
    r["l2_bytes"] = d.l2_bytes;
    r["clock_khz"] = d.clock_khz;
    r["total_mem_bytes"] = d.total_mem_bytes;
    r["driver_version"] = d.driver_version;
    r["runtime_version"] = d.runtime_version;
    return r;
  });

  py::enum_<WaiterKind>(m, "WaiterKind", "What runs the wait (the strategy table's `native` column).")
      .value("DEVICE_SPIN", WaiterKind::kDeviceSpin)
      .value("STREAM_WAIT_VALUE", WaiterKind::kStreamWaitValue)
      .value("HOST_SPIN", WaiterKind::kHostSpin)
      .value("HOST_YIELD", WaiterKind::kHostYield)
      .value("HOST_BLOCK", WaiterKind::kHostBlock)
      .value("EVENT_SYNC", WaiterKind::kEventSync)
      .value("EXTERNAL", WaiterKind::kExternal);
  py::enum_<FlagLocation>(m, "FlagLocation", "Where the release word lives.")
      .value("HOST", FlagLocation::kHost)
      .value("DEVICE", FlagLocation::kDevice);
  py::enum_<PollLoad>(m, "PollLoad", "How the spin kernel's pollers load the flag.")
      .value("VOLATILE", PollLoad::kVolatile)
      .value("ACQUIRE", PollLoad::kAcquire);
  py::enum_<FlagLines>(m, "FlagLines", "Every poller polls one word, or each poller its own 16-byte line.")
      .value("SHARED", FlagLines::kShared)
      .value("PER_POLLER", FlagLines::kPerPoller);
  py::enum_<BackoffMode>(m, "Backoff", "Sleep between polls of the spin kernel.")
      .value("NONE", kBackoffNone)
      .value("FIXED", kBackoffFixed)
      .value("EXP", kBackoffExp);
  py::enum_<EventSync>(m, "EventSync", "How cudaEventSynchronize waits (event-sync).")
      .value("BLOCKING", EventSync::kBlocking)
      .value("SPIN", EventSync::kSpin);

  py::class_<WaiterConfig>(m, "WaiterConfig",
                           "A native waiter's settings; waitbench.strategies.native_config() builds it from the table.")
      .def(py::init<>())
      .def_readwrite("kind", &WaiterConfig::kind)
      .def_readwrite("device", &WaiterConfig::device)
      .def_readwrite("blocks", &WaiterConfig::blocks)
      .def_readwrite("threads", &WaiterConfig::threads)
      .def_readwrite("pollers", &WaiterConfig::pollers)
      .def_readwrite("registers", &WaiterConfig::registers)
      .def_readwrite("smem_bytes", &WaiterConfig::smem_bytes)
      .def_readwrite("check_every", &WaiterConfig::check_every)
      .def_readwrite("flag", &WaiterConfig::flag)
      .def_readwrite("poll", &WaiterConfig::poll)
      .def_readwrite("flag_lines", &WaiterConfig::flag_lines)
      .def_readwrite("backoff", &WaiterConfig::backoff)
      .def_readwrite("backoff_ns", &WaiterConfig::backoff_ns)
      .def_readwrite("backoff_cap_ns", &WaiterConfig::backoff_cap_ns)
      .def_readwrite("spin_us", &WaiterConfig::spin_us)
      .def_readwrite("sync", &WaiterConfig::sync)
      .def_readwrite("timeout_s", &WaiterConfig::timeout_s);

  py::class_<PyWaiter>(m, "Waiter", "A native waiter; construct it from waitbench.strategies.native_config().")
      .def(py::init([](WaiterConfig c) {  // a copy: read with the GIL released
             py::gil_scoped_release nogil;
             return PyWaiter{Waiter::create(c)};
           }),
           py::arg("config"))
      .def("arm", [](PyWaiter& w) { w.get().arm(); }, py::call_guard<py::gil_scoped_release>())
      .def("release", [](PyWaiter& w) { return w.get().release(); }, py::call_guard<py::gil_scoped_release>())
      .def("wait",
           [](PyWaiter& w, double timeout_s) {
             WaitResult r;
             {
               py::gil_scoped_release nogil;
               r = w.get().wait(timeout_s);
             }
             return result_dict(r);
           },
           py::arg("timeout_s"))
      .def("abort", [](PyWaiter& w) { w.get().abort(); }, py::call_guard<py::gil_scoped_release>())
      .def("close",
           [](PyWaiter& w) {
             py::gil_scoped_release nogil;
             w.impl.reset();
           })
      .def_property_readonly("armed", [](PyWaiter& w) { return w.impl && w.impl->armed(); })
      .def_property_readonly("closed", [](PyWaiter& w) { return !w.impl; })
      .def_property_readonly("device_clock", [](PyWaiter& w) { return w.get().device_clock(); })
      .def("shape", [](PyWaiter& w) { return w.get().shape(); })
      .def("sm_ids", [](PyWaiter& w) { return w.get().sm_ids(); });

  m.def("external_waiter",
        [](WaiterConfig c, py::function launcher) {
          // The waiter may be destroyed with the GIL released (close()): drop the function under it.
          std::shared_ptr<py::function> fn(new py::function(launcher), [](py::function* f) {
            py::gil_scoped_acquire gil;
            delete f;
          });
          // Called from arm() with the GIL released: take it back to run the Python launcher.
          ExternalLauncher launch = [fn](const ExternalLaunch& l) {
            py::gil_scoped_acquire gil;
            py::dict d;
            d["gen"] = l.gen;
            d["flag_addr"] = l.flag_addr;
            d["abort_addr"] = l.abort_addr;
            d["slots_addr"] = l.slots_addr;
            d["timeout_ns"] = l.timeout_ns;
            d["stream"] = l.stream;
            d["blocks"] = l.blocks;
            (*fn)(d);
          };
          py::gil_scoped_release nogil;
          return PyWaiter{Waiter::create_external(c, std::move(launch))};
        },
        py::arg("config"), py::arg("launcher"),
        "A device waiter whose kernel `launcher(words: dict)` launches at each arm (research strategies).");
  m.def("run_trials",
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
        "n trials of arm -> gap -> release -> wait, timed in C++; raw host/device timestamps per trial.");
  m.def("calibrate_clock",
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
  m.def("launch_floor",
        [](int device, int n) {
          std::vector<int64_t> v;
          {
            py::gil_scoped_release nogil;
            v = launch_floor(device, n);
          }
          return to_array(v);
        },
        py::arg("device"), py::arg("n"));

  py::class_<Stream>(m, "Stream", "A non-blocking CUDA stream owned by waitbench (handle: for torch/cupy/numba).")
      .def(py::init([](int device, int priority) {
             use_device(device);
             return std::make_unique<Stream>(priority);
           }),
           py::arg("device"), py::arg("priority") = 0)
      .def_property_readonly("handle", [](const Stream& s) { return reinterpret_cast<uintptr_t>(s.get()); });
  m.def("wait_stream_idle",
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
      .def("enqueue",
           [](const BuiltinWorkload& w, uintptr_t stream, int launches) {
             w.enqueue(reinterpret_cast<cudaStream_t>(stream), launches);
           },
           py::arg("stream"), py::arg("launches"), py::call_guard<py::gil_scoped_release>())
      .def("held_clock_mhz",
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

  // The cross-process barrier and its ack probe (bind_barrier.cpp).
  register_barrier(m);
}
