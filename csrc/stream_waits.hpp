// SPDX-License-Identifier: Apache-2.0
// Front-end waits: the stream itself blocks in the GPU's command processor (no SM is used) until a
// 32-bit word reaches a value; and the matching write, issued from another stream.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace wb {

// Enqueues "wait until (int32_t)(*word - value) >= 0" on `stream`. `word` is a device address
// (device memory, or the device alias of host-mapped memory).
void enqueue_wait_value(cudaStream_t stream, const uint32_t* word, uint32_t value);
// Enqueues "*word = value" on `stream` (how a release reaches a flag in device memory).
void enqueue_write_value(cudaStream_t stream, uint32_t* word, uint32_t value);

}  // namespace wb
