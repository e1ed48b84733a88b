// SPDX-License-Identifier: Apache-2.0
// The error helpers every CUDA call goes through (common.hpp's WB_CUDA): a failed call becomes the
// exception Python maps to its waitbench.errors class; "no usable GPU" says what to do.
#include <string>

#include "common.hpp"

namespace wb {

namespace {

std::string cuda_version(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

// What a cudaErrorInsufficientDriver means here: no driver, or one older than the runtime linked in
// (static cudart: CUDART_VERSION), said with both versions and the way out.
std::string insufficient_driver(const std::string& what) {
  int driver = 0;
  cudaDriverGetVersion(&driver);  // 0 when no driver is loaded; works with any driver
  if (driver == 0) return "no usable CUDA GPU: " + what + " (no NVIDIA driver is loaded)";
  return "no usable CUDA GPU: the NVIDIA driver supports CUDA " + cuda_version(driver) +
         " and this waitbench was built with CUDA " + cuda_version(CUDART_VERSION) +
         "; reinstall waitbench built with a CUDA " + std::to_string(driver / 1000) +
         " toolkit (docs/INSTALL.md) or install a driver that supports CUDA " + cuda_version(CUDART_VERSION);
}

}  // namespace

void throw_cuda(cudaError_t err, const char* call, const char* file, int line) {
  cudaGetLastError();  // clear a sticky-free error so the next call starts clean
  const std::string what = cudaGetErrorString(err);
  if (err == cudaErrorInsufficientDriver) throw NoDeviceError(insufficient_driver(what));
  if (err == cudaErrorNoDevice || err == cudaErrorStubLibrary || err == cudaErrorDevicesUnavailable ||
      err == cudaErrorCompatNotSupportedOnDevice) {
    throw NoDeviceError("no usable CUDA GPU: " + what);
  }
  throw CudaError(std::string(call) + " failed: " + what + " [" + cudaGetErrorName(err) + " at " + file + ":" +
                  std::to_string(line) + "]");
}

void use_device(int device) { WB_CUDA(cudaSetDevice(device)); }

}  // namespace wb
