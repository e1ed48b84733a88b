// SPDX-License-Identifier: Apache-2.0
// Host clocks and the error helpers that every other file uses.
#include "clock.hpp"

#include <time.h>

#include "common.hpp"

namespace wb {

static int64_t read_clock(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

int64_t now_ns() { return read_clock(CLOCK_MONOTONIC); }
int64_t thread_cpu_ns() { return read_clock(CLOCK_THREAD_CPUTIME_ID); }

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

void spin_for_ns(int64_t ns) {
  const int64_t end = now_ns() + ns;
  while (now_ns() < end) cpu_relax();
}

void throw_cuda(cudaError_t err, const char* call, const char* file, int line) {
  cudaGetLastError();  // clear a sticky-free error so the next call starts clean
  const std::string what = cudaGetErrorString(err);
  if (err == cudaErrorInsufficientDriver || err == cudaErrorNoDevice || err == cudaErrorStubLibrary ||
      err == cudaErrorDevicesUnavailable || err == cudaErrorCompatNotSupportedOnDevice) {
    throw NoDeviceError(
        "no usable CUDA GPU: " + what +
        (err == cudaErrorInsufficientDriver
             ? " (no NVIDIA driver is loaded, or it is older than the CUDA runtime waitbench was built with)"
             : ""));
  }
  throw CudaError(std::string(call) + " failed: " + what + " [" + cudaGetErrorName(err) + " at " + file + ":" +
                  std::to_string(line) + "]");
}

void use_device(int device) { WB_CUDA(cudaSetDevice(device)); }

}  // namespace wb
