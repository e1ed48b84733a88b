// SPDX-License-Identifier: Apache-2.0
// waitbench._C, devices: what each CUDA device is, and the CUDA versions of the driver and the build.
#include <cuda_runtime.h>
#include <pybind11/stl.h>

#include "bind.hpp"
#include "device_info.hpp"

namespace wb {

void register_device(py::module_& m) {
  m.attr("CUDA_VERSION") = CUDART_VERSION;  // the runtime linked in (static): what a driver must support
  m.def(
      "driver_cuda_version",
      [] {
        int v = 0;
        cudaDriverGetVersion(&v);  // any driver answers, however old; 0 when none is loaded
        return v;
      },
      "The CUDA version the loaded NVIDIA driver supports (12080 for 12.8), 0 when no driver is loaded.");
  m.def("device_count", &device_count, "Number of CUDA devices; raises NoGpuError without a usable driver.");
  m.def(
      "device_info",
      [](int index) {
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
      },
      py::arg("index"), "What CUDA device `index` is and what its SMs can hold.");
}

}  // namespace wb
