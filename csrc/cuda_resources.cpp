// SPDX-License-Identifier: Apache-2.0
// Host-mapped words, device words, streams and events, each released by its destructor so that an
// exception or Ctrl-C in Python never leaves a waiter without memory to read.
#include "cuda_resources.hpp"

#include <atomic>
#include <cstring>

#include "common.hpp"

namespace wb {

MappedHostBuffer::MappedHostBuffer(size_t bytes) {
  WB_CUDA(cudaHostAlloc(&host_, bytes, cudaHostAllocMapped | cudaHostAllocPortable));
  std::memset(host_, 0, bytes);
  WB_CUDA(cudaHostGetDevicePointer(&device_, host_, 0));
}

MappedHostBuffer::~MappedHostBuffer() {
  if (host_) cudaFreeHost(host_);
}

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  WB_CUDA(cudaMalloc(&ptr_, bytes));
  WB_CUDA(cudaMemset(ptr_, 0, bytes));
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}

Stream::Stream(int priority) { WB_CUDA(cudaStreamCreateWithPriority(&stream_, cudaStreamNonBlocking, priority)); }

Stream::~Stream() {
  if (stream_) cudaStreamDestroy(stream_);
}

Event::Event(unsigned flags) { WB_CUDA(cudaEventCreateWithFlags(&event_, flags)); }

Event::~Event() {
  if (event_) cudaEventDestroy(event_);
}

uint32_t load_acquire(const uint32_t* word) { return __atomic_load_n(word, __ATOMIC_ACQUIRE); }

void store_release(uint32_t* word, uint32_t value) { __atomic_store_n(word, value, __ATOMIC_RELEASE); }

}  // namespace wb
