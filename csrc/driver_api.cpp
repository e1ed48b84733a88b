// SPDX-License-Identifier: Apache-2.0
// Entry-point resolution of the driver functions waitbench needs (stream memory operations).
#include "driver_api.hpp"

#include <cuda_runtime.h>

#include <mutex>
#include <string>

#include "common.hpp"

namespace wb {

template <typename Fn>
static void resolve(const char* symbol, Fn* out) {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult status{};
#if CUDART_VERSION >= 12050
  WB_CUDA(cudaGetDriverEntryPointByVersion(symbol, &fn, 12000, cudaEnableDefault, &status));
#else
  // CUDA 12.0-12.4 runtimes have only this call: it returns the symbol as this runtime's version
  // (12.x) defines it, the same ABI ByVersion(12000) asks for above.
  WB_CUDA(cudaGetDriverEntryPoint(symbol, &fn, cudaEnableDefault, &status));
#endif
  if (status != cudaDriverEntryPointSuccess || fn == nullptr) {
    throw CudaError(std::string("the NVIDIA driver does not provide ") + symbol);
  }
  *out = reinterpret_cast<Fn>(fn);
}

const DriverApi& driver_api() {
  static DriverApi api;
  static std::once_flag once;
  std::call_once(once, [] {
    resolve("cuStreamWaitValue32", &api.stream_wait_value32);
    resolve("cuStreamWriteValue32", &api.stream_write_value32);
  });
  return api;
}

void check_cu(CUresult res, const char* call) {
  if (res != CUDA_SUCCESS) {
    throw CudaError(std::string(call) + " failed with CUresult " + std::to_string(static_cast<int>(res)));
  }
}

}  // namespace wb
