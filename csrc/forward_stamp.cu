// SPDX-License-Identifier: Apache-2.0
// The stamping forward kernel and its floor (see forward_stamp.hpp).
#include "forward_stamp.hpp"

#include <stdexcept>
#include <string>

#include "clock.hpp"
#include "common.hpp"
#include "device_asm.cuh"
#include "handoff_floor.hpp"

namespace wb {
namespace {

__global__ void forward_stamp_kernel(unsigned long long* stamp, unsigned long long work_ns) {
  const uint64_t start = globaltimer_ns();
  if (threadIdx.x == 0) *reinterpret_cast<volatile unsigned long long*>(stamp) = start;
  while (globaltimer_ns() - start < work_ns) {
  }
}

int checked_device(int device) {
  use_device(device);
  return device;
}

}  // namespace

ForwardStamp::ForwardStamp(int device, int capacity, int64_t work_ns)
    : device_(checked_device(device)),
      capacity_(capacity),
      work_ns_(work_ns),
      stamps_(sizeof(unsigned long long) * static_cast<size_t>(capacity > 0 ? capacity : 1)),
      stream_() {
  if (capacity < 1) throw std::invalid_argument("capacity=" + std::to_string(capacity) + " is invalid: expected >= 1");
  if (work_ns < 0) throw std::invalid_argument("work_ns=" + std::to_string(work_ns) + " is invalid: expected >= 0");
}

void ForwardStamp::launch(int index) {
  if (index < 0 || index >= capacity_) {
    throw std::invalid_argument("index=" + std::to_string(index) + " is out of range [0, " + std::to_string(capacity_) +
                                ")");
  }
  auto* dev = static_cast<unsigned long long*>(stamps_.device()) + index;
  static_cast<volatile unsigned long long*>(stamps_.host())[index] = 0;
  forward_stamp_kernel<<<1, 32, 0, stream_.get()>>>(dev, static_cast<unsigned long long>(work_ns_));
  WB_CUDA(cudaGetLastError());
}

uint64_t ForwardStamp::finish(int index, double timeout_s) {
  use_device(device_);
  const int64_t limit = now_ns() + static_cast<int64_t>(timeout_s * 1e9);
  for (;;) {
    const cudaError_t e = cudaStreamQuery(stream_.get());
    if (e == cudaSuccess) break;
    if (e != cudaErrorNotReady) WB_CUDA(e);
    if (now_ns() > limit)
      throw WaitError("the forward kernel did not finish within " + std::to_string(timeout_s) + " s");
    cpu_relax();
  }
  return static_cast<volatile unsigned long long*>(stamps_.host())[index];
}

ForwardFloor forward_floor(int device, int n, int64_t gap_ns, double timeout_s) {
  ForwardStamp fwd(device, n, 0);
  fwd.launch(0);  // load the module and warm the stream before the first timed hand-off
  fwd.finish(0, timeout_s);
  ForwardFloor f;
  f.kernel_gt_ns.assign(n, 0);
  const HandoffSamples s = handoff_floor(n, gap_ns, timeout_s, [&](int i) {
    use_device(device);
    fwd.launch(i);
    f.kernel_gt_ns[i] = static_cast<int64_t>(fwd.finish(i, timeout_s));
  });
  f.arrival_ns = s.arrival_ns;
  f.recv_ns = s.recv_ns;
  return f;
}

}  // namespace wb
