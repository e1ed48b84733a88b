// SPDX-License-Identifier: Apache-2.0
// A cross-process barrier on a futex in POSIX shared memory (no CUDA): the host-side fix of
// LMDeploy PR #2607 (ranks line up on the host before the collective), without Python on the wake path.
//
// Sense-reversing: the sense is the generation word. Each party arrives for target = generation + 1,
// the last arrival resets the count and bumps the generation (the sense flip) and wakes the sleepers;
// the others spin for `spin_ns`, then sleep on the generation word (a shared, not private, futex).
// Nothing hangs: every wait has a deadline; abort() releases every waiter with an error; a sleeping
// waiter checks at a bounded period (kBarrierLiveness*) whether a party's process has died (pid, start
// time and pid namespace kept per rank slot from the moment it is claimed, so a reused pid or a zombie
// counts as dead), whether a party closed its handle, and whether the creator died before closing; a
// timeout names the ranks that did not arrive. A slot held by a dead or departed process is never
// taken by another (its arrival would be hidden): the barrier stays broken, as threading.Barrier's
// does, until reset(). A stopped process (SIGSTOP) is alive: it is left to the deadline.
//
// The segment is built under a temporary name and linked to its name only when complete (an opener
// never sees a half-made one); a name whose creator died is taken over under an flock of the old
// segment, so of many creators at once exactly one owns the name. open() checks owner, mode, size,
// magic, version and parties before it trusts anything in the segment.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace wb {

constexpr int kBarrierMaxParties = 256;
// A sleeping waiter checks whether the other parties' processes are alive after 0.1 s, then every
// 0.2 s: a dead rank is noticed within about 0.2 s, well inside the promised second, and a long idle
// wait costs five wake-ups and five /proc reads per party a second (about 30 and 90 us of CPU each,
// cold, on the project's 2-core VM).
constexpr int64_t kBarrierLivenessFirstNs = 100000000;
constexpr int64_t kBarrierLivenessMaxNs = 200000000;

// How a wait ended. Everything but kReleased also says why the barrier is broken.
enum BarrierStatus : int {
  kBarrierReleased = 0,
  kBarrierTimeout = 1,      // a waiter's deadline passed before every party arrived
  kBarrierAborted = 2,      // abort()
  kBarrierRankDied = 3,     // a party's process exited (or was killed) while others waited
  kBarrierInterrupted = 4,  // a waiter was interrupted (Ctrl-C) and left
  kBarrierRankLeft = 5,     // a party closed its handle: it will not arrive again
  kBarrierReset = 6,        // reset() while this party waited
};

struct BarrierWaitResult {
  int status = kBarrierReleased;
  int index = -1;           // arrival index in [0, parties): parties - 1 is the last (the releaser)
  uint32_t generation = 0;  // the generation this wait completed (or broke in)
  int64_t release_ns = 0;   // CLOCK_MONOTONIC when the last arrival released it
  int64_t wake_ns = 0;      // CLOCK_MONOTONIC when this party saw the release (== release_ns for the releaser)
  int64_t cpu_ns = 0;       // CPU time of the calling thread inside wait()
  int64_t wall_ns = 0;      // wall time inside wait()
};

// Why a barrier is broken, as the party that broke it saw it.
struct BarrierBrokenInfo {
  int reason = kBarrierReleased;  // a BarrierStatus; kBarrierReleased: not broken
  int by_rank = -1;               // the rank that found it (-1: not a party, e.g. abort() from elsewhere)
  uint32_t generation = 0;        // the generation that could not complete
  int dead_rank = -1;             // kBarrierRankDied/kBarrierRankLeft: which rank (-1: the creator), its pid
  int32_t dead_pid = 0;
  std::vector<int> missing;   // ranks that had not arrived for that generation
  std::vector<int32_t> pids;  // pid of every rank (0: no process holds it)
};

class SharedBarrier {
 public:
  // A new barrier named `name` (a POSIX shared-memory name without the leading '/'), taking the name
  // over if its creator is dead. Throws std::system_error: EEXIST if a live process (or something
  // that is not a barrier) holds the name, ENOSPC if /dev/shm is full.
  static std::unique_ptr<SharedBarrier> create(const std::string& name, int parties);
  // An existing barrier: std::system_error(ENOENT) if there is none, std::system_error(EACCES) if
  // another user owns it or others may write it, std::invalid_argument if it is not a valid barrier.
  static std::unique_ptr<SharedBarrier> open(const std::string& name);
  // Removes the name (mappings stay valid until closed) if the calling process created the segment
  // it names: a fork()ed child never removes its parent's. False if nothing was removed.
  static bool unlink(const std::string& name);
  // The pid that created barrier `name`, and whether that process is still alive; {0, false} if none.
  static std::pair<int32_t, bool> creator(const std::string& name);

  ~SharedBarrier();  // frees the rank this handle holds, unmaps
  SharedBarrier(const SharedBarrier&) = delete;
  SharedBarrier& operator=(const SharedBarrier&) = delete;

  // Takes rank `rank` for this handle (-1: the lowest free one) and returns it. A rank held by a
  // process, live or dead, or closed since, is not taken (std::invalid_argument): only reset() frees it.
  int claim(int rank);
  // Arrives and waits, at most timeout_ns, spinning spin_ns before sleeping. Claims a rank first if
  // this handle holds none. `interrupted` (may be empty) is asked on every liveness check and on
  // EINTR; when it says true the wait breaks the barrier with kBarrierInterrupted and returns.
  BarrierWaitResult wait(int64_t timeout_ns, int64_t spin_ns, const std::function<bool()>& interrupted);
  // Breaks the barrier: every waiter, now and later, returns kBarrierAborted.
  void abort();
  // As threading.Barrier.reset(): waiters now waiting return kBarrierReset, the barrier is no longer
  // broken, and slots of dead or departed processes are free again.
  void reset();

  int parties() const;
  int rank() const { return rank_; }
  int n_waiting() const;  // parties that arrived for the current generation
  BarrierBrokenInfo broken() const;

  struct Layout;  // the segment's contents (host_barrier.cpp)

 private:
  SharedBarrier(int fd, void* base, size_t bytes);
  Layout* layout() const { return static_cast<Layout*>(base_); }
  bool break_barrier(int reason, uint32_t generation, int dead_rank, int32_t dead_pid);
  // A party that will never arrive: {reason, rank (-1: the creator), pid}; reason 0 if none.
  struct Fault {
    int reason = 0;
    int rank = -1;
    int32_t pid = 0;
  };
  Fault find_fault() const;

  int fd_;
  void* base_;
  size_t bytes_;
  uint64_t pidns_;  // this process's pid namespace: only pids of the same one can be checked
  int rank_ = -1;
  bool creator_ = false;  // this handle created the segment (in this process: a fork's copy is not)
  std::atomic<bool> in_wait_{false};
};

}  // namespace wb
