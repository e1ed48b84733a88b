// SPDX-License-Identifier: Apache-2.0
// The process's ring in shared memory: opened at the first communicator's init, appended to by any thread.
//
// Why multi-producer and lossy: entries are written by whichever NCCL thread completes a collective (the
// application's, the proxy's, NCCL 2.31's profiler thread), and the plugin must never wait for anyone. A writer
// takes a ticket with one fetch_add and owns the entry at ticket % capacity; when the ring is full the oldest
// entries are overwritten (the reader counts them as lost), so a write never blocks, never allocates and makes
// no system call.
#pragma once

#include <cstdint>
#include <string>

#include "ring_layout.hpp"

namespace wbprof {

struct RingConfig {
  std::string dir;  // where the file goes (default /dev/shm)
  std::string job;  // the job id in its name
  uint64_t entries = kDefaultEntries;
  uint32_t activation_mask = 0;
};

class Ring {
 public:
  // Maps the ring file of this process, creating it, or reusing the one this same process made before (NCCL
  // unloads the plugin when its last communicator goes, and loads it again for the next). Returns nullptr and
  // fills `error` when the file cannot be made.
  static Ring* open(const RingConfig& cfg, std::string* error);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Appends one entry (its seq and checksum are filled here). Lock-free, wait-free, no system call.
  void publish(const RingEntry& entry);
  // Describes a communicator in the header's table (under the plugin's init lock).
  void add_comm(const CommInfo& info);

  RingHeader& header() { return *header_; }
  const std::string& path() const { return path_; }

 private:
  Ring() = default;
  RingHeader* header_ = nullptr;
  RingEntry* entries_ = nullptr;
  size_t bytes_ = 0;
  std::string path_;
};

// The ring file's name for a job and a process: waitbench-prof-<job>-<pid>.ring, the job cut to the characters
// [A-Za-z0-9._-] (others become '_') and 48 of them.
std::string ring_file_name(const std::string& job, int pid);

// Host CLOCK_MONOTONIC in ns (a vDSO read: no system call).
int64_t monotonic_ns();

}  // namespace wbprof
