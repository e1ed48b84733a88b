// SPDX-License-Identifier: Apache-2.0
// RAII owners of the memory and CUDA objects a wait needs: host-mapped words, device words,
// streams and events. Destructors never throw; they free what they own even after errors.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace wb {

// Pinned host memory mapped into the device's address space (zero-copy): the GPU reads and
// writes it over the bus, the host sees the GPU's writes without a copy.
class MappedHostBuffer {
 public:
  explicit MappedHostBuffer(size_t bytes);
  ~MappedHostBuffer();
  MappedHostBuffer(const MappedHostBuffer&) = delete;
  MappedHostBuffer& operator=(const MappedHostBuffer&) = delete;
  void* host() const { return host_; }
  void* device() const { return device_; }

 private:
  void* host_ = nullptr;
  void* device_ = nullptr;
};

class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// A non-blocking stream (never serialised with the legacy default stream).
class Stream {
 public:
  explicit Stream(int priority = 0);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  explicit Event(unsigned flags = cudaEventDisableTiming);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// Host-side accesses to words the GPU also touches.
uint32_t load_acquire(const uint32_t* word);
void store_release(uint32_t* word, uint32_t value);

}  // namespace wb
