// SPDX-License-Identifier: Apache-2.0
// The process's ring in shared memory (see ring.hpp).
#include "ring.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "../proc_stat.hpp"

namespace wbprof {
namespace {

// Field 22 (starttime) of /proc/self/stat; 0 if it cannot be read.
uint64_t own_start_ticks() {
  char state = 0;
  uint64_t start = 0;
  return wb::read_proc_stat(static_cast<int32_t>(getpid()), &state, &start) ? start : 0;
}

int64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string sys_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

int64_t monotonic_ns() { return clock_ns(CLOCK_MONOTONIC); }

std::string ring_file_name(const std::string& job, int pid) {
  std::string clean;
  for (char c : job.substr(0, 48)) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    clean += ok ? c : '_';
  }
  if (clean.empty()) clean = "job";
  return "waitbench-prof-" + clean + "-" + std::to_string(pid) + ".ring";
}

Ring* Ring::open(const RingConfig& cfg, std::string* error) {
  const int pid = static_cast<int>(getpid());
  const uint64_t start_ticks = own_start_ticks();
  const std::string path = cfg.dir + "/" + ring_file_name(cfg.job, pid);
  const size_t bytes = kEntriesOffset + cfg.entries * sizeof(RingEntry);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = sys_error("cannot open", path);
    return nullptr;
  }
  struct stat st{};
  bool reuse = false;
  if (fstat(fd, &st) == 0 && static_cast<size_t>(st.st_size) == bytes) {
    RingHeader old{};
    reuse = pread(fd, &old, sizeof(old), 0) == static_cast<ssize_t>(sizeof(old)) && old.magic == kRingMagic &&
            old.format == kRingFormat && old.entry_bytes == sizeof(RingEntry) && old.capacity == cfg.entries &&
            old.pid == static_cast<uint32_t>(pid) && old.proc_start_ticks == start_ticks;
  }
  if (!reuse && (ftruncate(fd, 0) != 0 || ftruncate(fd, static_cast<off_t>(bytes)) != 0)) {
    *error = sys_error("cannot size", path);
    ::close(fd);
    return nullptr;
  }
  // MAP_POPULATE: the pages are faulted in here, at init, not on the first pass of an event over them.
  void* map = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    *error = sys_error("cannot map", path);
    return nullptr;
  }
  Ring* ring = new Ring();
  ring->header_ = static_cast<RingHeader*>(map);
  ring->entries_ = reinterpret_cast<RingEntry*>(static_cast<char*>(map) + kEntriesOffset);
  ring->bytes_ = bytes;
  ring->path_ = path;
  RingHeader& h = *ring->header_;
  if (!reuse) {  // a fresh file is all zeros: fill the identity, then the magic last
    h.format = kRingFormat;
    h.entry_bytes = sizeof(RingEntry);
    h.capacity = cfg.entries;
    h.pid = static_cast<uint32_t>(pid);
    h.proc_start_ticks = start_ticks;
    h.created_realtime_ns = clock_ns(CLOCK_REALTIME);
    h.created_monotonic_ns = clock_ns(CLOCK_MONOTONIC);
    std::strncpy(h.job, cfg.job.c_str(), sizeof(h.job) - 1);
    gethostname(h.host, sizeof(h.host) - 1);
    std::atomic_thread_fence(std::memory_order_release);
    h.magic = kRingMagic;
  }
  h.activation_mask = cfg.activation_mask;
  return ring;
}

Ring::~Ring() {
  if (header_) munmap(header_, bytes_);
}

void Ring::publish(const RingEntry& entry) {
  const uint64_t ticket = header_->head.fetch_add(1, std::memory_order_relaxed);
  RingEntry& slot = entries_[ticket % header_->capacity];
  slot.seq.store(2 * ticket + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  // Copy the payload after the two leading words (seq stays the atomic it is).
  constexpr size_t kSkip = 2 * sizeof(uint64_t);
  const uint64_t checksum = ring_checksum(entry);
  std::memcpy(reinterpret_cast<char*>(&slot) + kSkip, reinterpret_cast<const char*>(&entry) + kSkip,
              sizeof(RingEntry) - kSkip);
  slot.checksum = checksum;
  slot.seq.store(2 * ticket + 2, std::memory_order_release);
}

void Ring::add_comm(const CommInfo& info) {
  RingHeader& h = *header_;
  const uint32_t n = h.n_comms.load(std::memory_order_relaxed);
  if (n >= kMaxComms) {
    h.comms_untracked.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto* table = reinterpret_cast<CommInfo*>(reinterpret_cast<char*>(header_) + kCommTableOffset);
  table[n] = info;
  h.n_comms.store(n + 1, std::memory_order_release);
}

}  // namespace wbprof
