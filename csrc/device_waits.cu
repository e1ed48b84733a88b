// SPDX-License-Identifier: Apache-2.0
// Device-resident waits: the spin waiter (NCCL-shaped when given NCCL's launch shape), the ack and
// armed markers, and the clock-calibration probe. Every loop here has a deadline and an abort word.
#include "device_waits.hpp"

#include <cuda_runtime.h>

#include "common.hpp"
#include "device_asm.cuh"

namespace wb {
namespace {

// Pollers spin on the flag; the other threads park at the block barrier (bar.sync), as NCCL's
// Simple protocol parks all but one thread per peer. HOLD registers per thread stay live across
// the wait, so the kernel's register footprint (and what it denies other kernels) is real.
template <int HOLD, int MAXREG>
__global__ void __maxnreg__(MAXREG) spin_wait_kernel(SpinParams p) {
  extern __shared__ unsigned char scratch[];
  __shared__ uint32_t s_outcome;
  __shared__ uint64_t s_wake_gt;
  const uint32_t t = threadIdx.x;
  BlockSlot* slot = p.slots + blockIdx.x;
  if (t == 0) {
    s_outcome = kPending;
    s_wake_gt = 0;
    slot->smid = sm_id();
    slot->start_gt = globaltimer_ns();
    st_release_sys(&slot->armed, p.gen);
  }
  float hold[HOLD > 0 ? HOLD : 1];
#pragma unroll
  for (int i = 0; i < HOLD; ++i) {
    hold[i] = p.seed * static_cast<float>(t + i);
    asm volatile("" : "+f"(hold[i]));  // value now unknown to the compiler: it must keep it
  }
  __syncthreads();

  if (t < p.pollers) {
    const uint32_t* flag = p.flag + (p.flag_stride ? (blockIdx.x * p.pollers + t) * p.flag_stride : 0u);
    const uint64_t deadline = globaltimer_ns() + p.timeout_ns;
    uint32_t sleep_ns = p.backoff_ns;
    uint32_t since_check = p.check_every;  // check abort and clock on the first poll too
    for (;;) {
      // NCCL polls with volatile loads and no fence after them ("volatile is faster than acquire",
      // prims_simple.h; its data loads are volatile too). An acquire load per poll is the stricter
      // alternative, kept as an option to compare. (A fence.acq_rel.sys after the volatile poll cost
      // ~1.2 us of round trip on the H100.)
      const uint32_t seen = p.poll_acquire ? ld_acquire_sys(flag) : ld_volatile(flag);
      if (static_cast<int32_t>(seen - p.gen) >= 0) {
        // A block's only poller acks at once, so nothing but the ack lies between the flag and the
        // host (the floor's device-spin+timer-cas probe put the clock read, CAS and barrier below
        // within its round-to-round spread); the observation time is late by one store's issue.
        if (p.pollers == 1) st_volatile(&slot->ack, p.gen);
        const uint64_t now = globaltimer_ns();
        if (atomicCAS(&s_outcome, kPending, kReleased) == kPending) s_wake_gt = now;
        break;
      }
      if (p.pollers > 1 && ld_volatile(&s_outcome) != kPending) break;
      // With backoff each poll already sleeps: check every time, so abort and expiry stay prompt.
      if (++since_check >= p.check_every || p.backoff_mode != kBackoffNone) {
        since_check = 0;
        if (ld_volatile(p.abort) != 0) {
          atomicCAS(&s_outcome, kPending, kAborted);
          break;
        }
        if (globaltimer_ns() > deadline) {
          atomicCAS(&s_outcome, kPending, kExpired);
          break;
        }
      }
      if (p.backoff_mode != kBackoffNone) {
        __nanosleep(sleep_ns);
        if (p.backoff_mode == kBackoffExp) sleep_ns = min(sleep_ns * 2, p.backoff_cap_ns);
      }
    }
  }
  __syncthreads();

  // The ack (unless the only poller sent it already) goes out first, as one relaxed store: a
  // release store (a system-scope fence) or the spilled `hold` values' reloads ahead of it cost
  // ~1 us of round trip. The host timestamps the ack and then waits for outcome and wake_gt, which
  // it reset before the launch (Waiter::settle).
  if (t == 0) {
    if (p.pollers != 1 || s_outcome != kReleased) st_volatile(&slot->ack, p.gen);
    st_volatile(&slot->outcome, s_outcome);
    st_volatile(&slot->wake_gt, s_wake_gt);
  }
  float acc = 0.f;
#pragma unroll
  for (int i = 0; i < HOLD; ++i) {
    asm volatile("" : "+f"(hold[i]));
    acc += hold[i];
  }
  if (acc == -1.0f && t < 1) scratch[0] = 1;  // keeps `hold` live; p.seed > 0 makes it never true
}

// The work behind front-end and host waits: the ack first (relaxed, see spin_wait_kernel), then
// when it ran and how the wait ended.
__global__ void ack_kernel(BlockSlot* slot, uint32_t gen, uint32_t outcome) {
  if (threadIdx.x == 0) {
    st_volatile(&slot->ack, gen);
    st_volatile(&slot->wake_gt, globaltimer_ns());
    st_volatile(&slot->outcome, outcome);
  }
}

__global__ void clock_probe_kernel(const uint32_t* ping, uint32_t* pong_ack, uint64_t* pong_gt, uint32_t n,
                                   uint64_t timeout_ns) {
  const uint64_t deadline = globaltimer_ns() + timeout_ns;
  for (uint32_t i = 1; i <= n; ++i) {
    for (;;) {
      if (ld_volatile(ping) >= i) break;  // relaxed poll, as the spin waiter's: symmetric legs
      if (globaltimer_ns() > deadline) return;
    }
    const uint64_t now = globaltimer_ns();
    st_volatile(pong_ack, i);  // relaxed, so both legs of a ping cost the same; the host then waits for pong_gt
    st_volatile(&pong_gt[i - 1], now);
  }
}

__global__ void timer_resolution_kernel(uint64_t* out) {
  uint64_t best = ~0ull;
  uint64_t prev = globaltimer_ns();
  for (int i = 0; i < 200000; ++i) {
    const uint64_t now = globaltimer_ns();
    if (now != prev) {
      if (now - prev < best) best = now - prev;
      prev = now;
    }
  }
  *out = best;
}

using SpinKernel = void (*)(SpinParams);

SpinKernel spin_kernel_for(int registers) {
  switch (registers) {
    // Each variant holds more live values than its cap and is compiled with __maxnreg__(cap), so
    // the compiler allocates exactly the cap whatever its version (excess values spill to local
    // memory, which a waiting kernel never touches in its loop); records report the real count.
    case 32: return spin_wait_kernel<32, 32>;
    case 64: return spin_wait_kernel<64, 64>;
    case 96: return spin_wait_kernel<96, 96>;
    case 128: return spin_wait_kernel<128, 128>;
    default:
      throw std::invalid_argument("registers=" + std::to_string(registers) +
                                  " is invalid: expected one of 32, 64, 96, 128");
  }
}

void allow_smem(SpinKernel k, int smem_bytes) {
  if (smem_bytes > 48 * 1024) {
    WB_CUDA(cudaFuncSetAttribute(reinterpret_cast<const void*>(k), cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 smem_bytes));
  }
}

}  // namespace

KernelInfo spin_kernel_info(int registers) {
  cudaFuncAttributes attr{};
  WB_CUDA(cudaFuncGetAttributes(&attr, reinterpret_cast<const void*>(spin_kernel_for(registers))));
  return {attr.numRegs, static_cast<int>(attr.sharedSizeBytes), attr.maxThreadsPerBlock};
}

int spin_blocks_per_sm(int registers, int threads, int smem_bytes) {
  SpinKernel k = spin_kernel_for(registers);
  allow_smem(k, smem_bytes);
  int n = 0;
  WB_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, k, threads, smem_bytes));
  return n;
}

void launch_spin(int registers, int blocks, int threads, int smem_bytes, const SpinParams& params,
                 cudaStream_t stream) {
  SpinKernel k = spin_kernel_for(registers);
  allow_smem(k, smem_bytes);
  k<<<blocks, threads, smem_bytes, stream>>>(params);
  WB_CUDA(cudaGetLastError());
}

void launch_ack(BlockSlot* slot, uint32_t gen, uint32_t outcome, cudaStream_t stream) {
  ack_kernel<<<1, 32, 0, stream>>>(slot, gen, outcome);
  WB_CUDA(cudaGetLastError());
}

void launch_clock_probe(const uint32_t* ping, uint32_t* pong_ack, uint64_t* pong_gt, uint32_t n, uint64_t timeout_ns,
                        cudaStream_t stream) {
  clock_probe_kernel<<<1, 1, 0, stream>>>(ping, pong_ack, pong_gt, n, timeout_ns);
  WB_CUDA(cudaGetLastError());
}

void launch_timer_resolution(uint64_t* out, cudaStream_t stream) {
  timer_resolution_kernel<<<1, 1, 0, stream>>>(out);
  WB_CUDA(cudaGetLastError());
}

}  // namespace wb
