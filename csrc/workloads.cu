// SPDX-License-Identifier: Apache-2.0
// Built-in workloads: an FP32 FMA-bound kernel and a memory-bound copy, each with a known amount
// of work per launch, made of many short blocks so they use whatever SM room a waiter leaves.
#include "workloads.hpp"

#include <stdexcept>

#include "clock.hpp"
#include "common.hpp"
#include "device_asm.cuh"

namespace wb {
namespace {

constexpr int kFmaChains = 8;
constexpr int kFmaBlock = 256;
constexpr int kFmaWaves = 16;  // blocks = 16 full waves: a waiter's few slots cost little tail
constexpr int kCopyBlock = 256;
constexpr int kCopyVecPerThread = 4;  // float4 per thread per block

// Thread 0 of each block adds the SM cycles (clock64) and nanoseconds (%globaltimer) its block ran
// to clock_acc[0] and [1]: their ratio is the SM clock held during the launches, the clock the
// FP32 peak must be computed from (NVML's 1 Hz clock readings are taken between runs).
__global__ void fma_kernel(float* out, unsigned long long* clock_acc, int iters, float a, float b) {
  long long c0 = 0;
  uint64_t g0 = 0;
  if (threadIdx.x == 0) {
    c0 = clock64();
    g0 = globaltimer_ns();
  }
  float x[kFmaChains];
#pragma unroll
  for (int c = 0; c < kFmaChains; ++c) x[c] = static_cast<float>(threadIdx.x + c);
#pragma unroll 16
  for (int i = 0; i < iters; ++i) {
#pragma unroll
    for (int c = 0; c < kFmaChains; ++c) x[c] = fmaf(x[c], a, b);
  }
  float sum = 0.f;
#pragma unroll
  for (int c = 0; c < kFmaChains; ++c) sum += x[c];
  if (sum == -1.0f) out[blockIdx.x] = sum;  // never true for a, b > 0; keeps the chains live
  if (threadIdx.x == 0) {
    long long c1;
    asm volatile("mov.u64 %0, %%clock64;" : "=l"(c1) : "f"(sum));  // `sum`: read after the chains
    const uint64_t g1 = globaltimer_ns();
    atomicAdd(&clock_acc[0], static_cast<unsigned long long>(c1 - c0));
    atomicAdd(&clock_acc[1], static_cast<unsigned long long>(g1 - g0));
  }
}

__global__ void copy_kernel(const float4* __restrict__ src, float4* __restrict__ dst, int64_t n) {
  const int64_t base = static_cast<int64_t>(blockIdx.x) * blockDim.x * kCopyVecPerThread + threadIdx.x;
  float4 v[kCopyVecPerThread];
#pragma unroll
  for (int k = 0; k < kCopyVecPerThread; ++k) {
    const int64_t i = base + static_cast<int64_t>(k) * blockDim.x;
    if (i < n) v[k] = src[i];
  }
#pragma unroll
  for (int k = 0; k < kCopyVecPerThread; ++k) {
    const int64_t i = base + static_cast<int64_t>(k) * blockDim.x;
    if (i < n) dst[i] = v[k];
  }
}

template <typename K>
cudaFuncAttributes attributes(K kernel) {
  cudaFuncAttributes attr{};
  WB_CUDA(cudaFuncGetAttributes(&attr, reinterpret_cast<const void*>(kernel)));
  return attr;
}

}  // namespace

BuiltinWorkload::BuiltinWorkload(const std::string& name, int device, int64_t size) : device_(device), size_(size) {
  use_device(device);
  if (size <= 0) throw std::invalid_argument("size=" + std::to_string(size) + " is invalid: expected > 0");
  int sms = 0;
  WB_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  if (name == "fma") {
    if (size % 16 != 0 || size > (1LL << 30)) {
      throw std::invalid_argument("size=" + std::to_string(size) +
                                  " is invalid: fma iterations must be a multiple of 16 in [16, 2^30]");
    }
    int per_sm = 0;
    WB_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fma_kernel, kFmaBlock, 0));
    const cudaFuncAttributes attr = attributes(fma_kernel);
    const int grid = sms * per_sm * kFmaWaves;
    a_ = std::make_unique<DeviceBuffer>(sizeof(float) * static_cast<size_t>(grid));
    clock_acc_ = std::make_unique<DeviceBuffer>(2 * sizeof(unsigned long long));
    clock_read_ = std::make_unique<MappedHostBuffer>(2 * sizeof(unsigned long long));
    const double flop = 2.0 * kFmaChains * static_cast<double>(size) * grid * kFmaBlock;
    info_ = {name, "flop", flop, grid, kFmaBlock, attr.numRegs, static_cast<int>(attr.sharedSizeBytes)};
  } else if (name == "stream" || name == "memcpy") {
    if (size % (16 * kCopyBlock * kCopyVecPerThread) != 0) {
      throw std::invalid_argument("size=" + std::to_string(size) +
                                  " is invalid: stream/memcpy bytes must be a multiple of 16384");
    }
    a_ = std::make_unique<DeviceBuffer>(static_cast<size_t>(size));
    b_ = std::make_unique<DeviceBuffer>(static_cast<size_t>(size));
    const int64_t vecs = size / 16;
    const int grid = static_cast<int>(vecs / (kCopyBlock * kCopyVecPerThread));
    const cudaFuncAttributes attr = attributes(copy_kernel);
    if (name == "stream") {
      const int smem = static_cast<int>(attr.sharedSizeBytes);
      info_ = {name, "byte", 2.0 * static_cast<double>(size), grid, kCopyBlock, attr.numRegs, smem};
    } else {
      info_ = {name, "byte", 2.0 * static_cast<double>(size), 0, 0, 0, 0};  // copy engine / driver kernel
    }
  } else {
    throw std::invalid_argument("workload='" + name + "' is invalid: expected one of fma, stream, memcpy");
  }
}

void BuiltinWorkload::enqueue(cudaStream_t stream, int launches) const {
  use_device(device_);
  if (clock_acc_) WB_CUDA(cudaMemsetAsync(clock_acc_->get(), 0, clock_acc_->bytes(), stream));
  for (int i = 0; i < launches; ++i) {
    if (info_.name == "fma") {
      fma_kernel<<<info_.grid, info_.block, 0, stream>>>(static_cast<float*>(a_->get()),
                                                         static_cast<unsigned long long*>(clock_acc_->get()),
                                                         static_cast<int>(size_), 0.999f, 0.001f);
    } else if (info_.name == "stream") {
      copy_kernel<<<info_.grid, info_.block, 0, stream>>>(static_cast<const float4*>(a_->get()),
                                                          static_cast<float4*>(b_->get()), size_ / 16);
    } else {
      WB_CUDA(cudaMemcpyAsync(b_->get(), a_->get(), static_cast<size_t>(size_), cudaMemcpyDeviceToDevice, stream));
    }
    WB_CUDA(cudaGetLastError());
  }
}

double BuiltinWorkload::held_clock_mhz(cudaStream_t stream) const {
  if (!clock_acc_) return 0.0;
  use_device(device_);
  WB_CUDA(cudaMemcpyAsync(clock_read_->host(), clock_acc_->get(), clock_acc_->bytes(), cudaMemcpyDeviceToHost, stream));
  WB_CUDA(cudaStreamSynchronize(stream));
  const auto* acc = static_cast<const volatile unsigned long long*>(clock_read_->host());
  return acc[1] == 0 ? 0.0 : 1e3 * static_cast<double>(acc[0]) / static_cast<double>(acc[1]);
}

int64_t wait_stream_idle(cudaStream_t stream, double timeout_s) {
  Event done;
  WB_CUDA(cudaEventRecord(done.get(), stream));
  const int64_t deadline = now_ns() + static_cast<int64_t>(timeout_s * 1e9);
  for (;;) {
    const cudaError_t q = cudaEventQuery(done.get());
    if (q == cudaSuccess) return now_ns();
    if (q != cudaErrorNotReady) throw_cuda(q, "cudaEventQuery", __FILE__, __LINE__);
    if (now_ns() > deadline) return 0;
    cpu_relax();
  }
}

}  // namespace wb
