// SPDX-License-Identifier: Apache-2.0
// Host-callable launchers of the device-side waits and markers (kernels live in device_waits.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "protocol.hpp"

namespace wb {

// Register footprints the spin kernel is compiled for: each variant holds a different number of
// live registers per thread across the wait (the `registers` option picks one).
constexpr int kRegisterVariants[] = {32, 64, 96, 128};

struct KernelInfo {
  int regs_per_thread;
  int static_smem_bytes;
  int max_threads_per_block;  // what the kernel's registers allow
};

KernelInfo spin_kernel_info(int registers);
// Blocks of this shape that can be resident on one SM at once (cudaOccupancy...).
int spin_blocks_per_sm(int registers, int threads, int smem_bytes);
void launch_spin(int registers, int blocks, int threads, int smem_bytes, const SpinParams& params, cudaStream_t stream);

// One warp that writes `ack = gen`, then `outcome` and %globaltimer into `slot` (relaxed stores: the
// host waits for all three, see Waiter::settle): the "work" queued behind front-end and host-side
// waits, and the floor of every wake-up path.
void launch_ack(BlockSlot* slot, uint32_t gen, uint32_t outcome, cudaStream_t stream);

// Clock calibration: one thread answers n pings. For i in 1..n it waits for *ping == i, writes
// *pong_ack = i and then the %globaltimer read at that moment to pong_gt[i-1] (relaxed stores: the
// host waits for pong_gt to turn nonzero). Ends by itself after timeout_ns.
void launch_clock_probe(const uint32_t* ping, uint32_t* pong_ack, uint64_t* pong_gt, uint32_t n, uint64_t timeout_ns,
                        cudaStream_t stream);
// Smallest non-zero step of %globaltimer seen over many reads, into *out.
void launch_timer_resolution(uint64_t* out, cudaStream_t stream);

}  // namespace wb
