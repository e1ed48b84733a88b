// SPDX-License-Identifier: Apache-2.0
// What the CUDA runtime says about a device: identity (UUID, PCI bus id, to match NVML devices)
// and the limits waiter shapes are validated against.
#pragma once

#include <cstdint>
#include <string>

namespace wb {

struct DeviceInfo {
  int index;
  std::string name;
  std::string uuid;        // "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as NVML prints it
  std::string pci_bus_id;  // "0000:xx:yy.z"
  int sm_count;
  int cc_major;
  int cc_minor;
  int max_threads_per_block;
  int max_threads_per_sm;
  int max_blocks_per_sm;
  int regs_per_sm;
  int smem_per_sm;
  int smem_optin_per_block;
  int l2_bytes;
  int clock_khz;  // peak SM clock the runtime reports
  int64_t total_mem_bytes;
  int driver_version;   // cudaDriverGetVersion
  int runtime_version;  // cudaRuntimeGetVersion
};

int device_count();  // throws NoDeviceError where no GPU or driver is usable
DeviceInfo device_info(int index);

}  // namespace wb
