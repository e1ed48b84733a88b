// SPDX-License-Identifier: Apache-2.0
// waitbench._C, waiters: the protocol constants, the spin kernel's variants, WaiterConfig and its
// enums (waitbench.strategies.native_config builds it), and the Waiter itself. Arming, waiting and
// closing release the GIL.
#include "bind_waiter.hpp"

#include <pybind11/stl.h>

#include <iterator>

#include "device_waits.hpp"
#include "protocol.hpp"

namespace wb {
namespace {

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

}  // namespace

void register_waiter(py::module_& m) {
  // Protocol constants: the one source of truth shared with Python.
  m.attr("OUTCOME_PENDING") = static_cast<int>(kPending);
  m.attr("OUTCOME_RELEASED") = static_cast<int>(kReleased);
  m.attr("OUTCOME_EXPIRED") = static_cast<int>(kExpired);
  m.attr("OUTCOME_ABORTED") = static_cast<int>(kAborted);
  m.attr("BLOCK_SLOT_BYTES") = static_cast<int>(sizeof(BlockSlot));
  m.attr("CONTROL_WORDS_BYTES") = static_cast<int>(sizeof(ControlWords));
  m.attr("REGISTER_VARIANTS") = std::vector<int>(std::begin(kRegisterVariants), std::end(kRegisterVariants));

  m.def(
      "spin_kernel_info",
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
      .def(
          "arm", [](PyWaiter& w) { w.get().arm(); }, py::call_guard<py::gil_scoped_release>())
      .def(
          "release", [](PyWaiter& w) { return w.get().release(); }, py::call_guard<py::gil_scoped_release>())
      .def(
          "wait",
          [](PyWaiter& w, double timeout_s) {
            WaitResult r;
            {
              py::gil_scoped_release nogil;
              r = w.get().wait(timeout_s);
            }
            return result_dict(r);
          },
          py::arg("timeout_s"))
      .def(
          "abort", [](PyWaiter& w) { w.get().abort(); }, py::call_guard<py::gil_scoped_release>())
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

  m.def(
      "external_waiter",
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
}

}  // namespace wb
