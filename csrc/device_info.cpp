// SPDX-License-Identifier: Apache-2.0
// Device identity and limits (see device_info.hpp).
#include "device_info.hpp"

#include <cuda_runtime.h>

#include <cstdio>
#include <stdexcept>

#include "common.hpp"

namespace wb {

int device_count() {
  int n = 0;
  WB_CUDA(cudaGetDeviceCount(&n));
  return n;
}

static std::string format_uuid(const cudaUUID_t& u) {
  const auto* b = reinterpret_cast<const unsigned char*>(u.bytes);
  char s[64];
  std::snprintf(s, sizeof(s), "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return s;
}

DeviceInfo device_info(int index) {
  const int n = device_count();
  if (index < 0 || index >= n) {
    throw std::invalid_argument("gpu=" + std::to_string(index) + " is invalid: expected a CUDA device index in [0, " +
                                std::to_string(n - 1) + "]");
  }
  cudaDeviceProp p{};
  WB_CUDA(cudaGetDeviceProperties(&p, index));
  DeviceInfo d{};
  d.index = index;
  d.name = p.name;
  d.uuid = format_uuid(p.uuid);
  char bus[32];
  WB_CUDA(cudaDeviceGetPCIBusId(bus, sizeof(bus), index));
  d.pci_bus_id = bus;
  d.sm_count = p.multiProcessorCount;
  d.cc_major = p.major;
  d.cc_minor = p.minor;
  d.max_threads_per_block = p.maxThreadsPerBlock;
  d.max_threads_per_sm = p.maxThreadsPerMultiProcessor;
  d.max_blocks_per_sm = p.maxBlocksPerMultiProcessor;
  d.regs_per_sm = p.regsPerMultiprocessor;
  d.smem_per_sm = static_cast<int>(p.sharedMemPerMultiprocessor);
  d.smem_optin_per_block = static_cast<int>(p.sharedMemPerBlockOptin);
  d.l2_bytes = p.l2CacheSize;
  WB_CUDA(cudaDeviceGetAttribute(&d.clock_khz, cudaDevAttrClockRate, index));
  d.total_mem_bytes = static_cast<int64_t>(p.totalGlobalMem);
  WB_CUDA(cudaDriverGetVersion(&d.driver_version));
  WB_CUDA(cudaRuntimeGetVersion(&d.runtime_version));
  return d;
}

}  // namespace wb
