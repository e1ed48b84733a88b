// SPDX-License-Identifier: Apache-2.0
// A cross-process barrier on a futex in POSIX shared memory (no CUDA): the host-side fix of
// LMDeploy PR #2607 (ranks line up on the host before the collective), without Python on the wake path.
//
// Sense-reversing: the sense is the generation word. Each party arrives for target = generation + 1,
// the last arrival resets the count and bumps the generation (the sense flip) and wakes the sleepers;
// the others spin for `spin_ns`, then sleep on the generation word (a shared, not private, futex).
// Nothing hangs: every wait has a deadline; abort() releases every waiter with an error; a sleeping
// waiter checks now and then (kBarrierLiveness*) whether a party's process has died (pid, start time
// and pid namespace kept per rank, so a reused pid or a zombie counts as dead); a timeout names the
// ranks that did not arrive. A barrier broken by any of these stays broken, as threading.Barrier does.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace wb {

constexpr int kBarrierMaxParties = 256;
// A sleeping waiter checks whether the other parties' processes are alive after 0.1 s, then at
// doubling intervals up to 1 s: a dead rank is noticed within 1 s (0.1 s early in a wait), and a long
// idle wait costs one wake-up and one /proc read per party a second (about 30 and 90 us of CPU, cold,
// on the project's 2-core VM).
constexpr int64_t kBarrierLivenessFirstNs = 100000000;
constexpr int64_t kBarrierLivenessMaxNs = 1000000000;

// How a wait ended. Everything but kReleased also says why the barrier is broken.
enum BarrierStatus : int {
  kBarrierReleased = 0,
  kBarrierTimeout = 1,      // a waiter's deadline passed before every party arrived
  kBarrierAborted = 2,      // abort()
  kBarrierRankDied = 3,     // a party's process exited (or was killed) while others waited
  kBarrierInterrupted = 4,  // a waiter was interrupted (Ctrl-C) and left
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
  int dead_rank = -1;             // kBarrierRankDied: which rank, and its pid
  int32_t dead_pid = 0;
  std::vector<int> missing;   // ranks that had not arrived for that generation
  std::vector<int32_t> pids;  // pid of every rank (0: no process holds it)
};

class SharedBarrier {
 public:
  // A new barrier named `name` (a POSIX shared-memory name without the leading '/'). Throws
  // std::system_error(EEXIST) if the name is taken.
  static std::unique_ptr<SharedBarrier> create(const std::string& name, int parties);
  // An existing barrier (std::system_error(ENOENT) if there is none).
  static std::unique_ptr<SharedBarrier> open(const std::string& name);
  // Removes the name (mappings stay valid until closed). False if there was none.
  static bool unlink(const std::string& name);
  // The pid that created barrier `name`, and whether that process is still alive; {0, false} if none.
  static std::pair<int32_t, bool> creator(const std::string& name);

  ~SharedBarrier();  // frees the rank this handle holds, unmaps
  SharedBarrier(const SharedBarrier&) = delete;
  SharedBarrier& operator=(const SharedBarrier&) = delete;

  // Takes rank `rank` for this handle (-1: the lowest free one) and returns it. A rank held by a
  // live process is not taken (std::invalid_argument); one left by a dead process is.
  int claim(int rank);
  // Arrives and waits, at most timeout_ns, spinning spin_ns before sleeping. Claims a rank first if
  // this handle holds none. `interrupted` (may be empty) is asked on every liveness check and on
  // EINTR; when it says true the wait breaks the barrier with kBarrierInterrupted and returns.
  BarrierWaitResult wait(int64_t timeout_ns, int64_t spin_ns, const std::function<bool()>& interrupted);
  // Breaks the barrier: every waiter, now and later, returns kBarrierAborted.
  void abort();

  int parties() const;
  int rank() const { return rank_; }
  int n_waiting() const;  // parties that arrived for the current generation
  BarrierBrokenInfo broken() const;

 private:
  SharedBarrier(int fd, void* base, size_t bytes);
  struct Layout;
  Layout* layout() const { return static_cast<Layout*>(base_); }
  bool break_barrier(int reason, uint32_t generation, int dead_rank, int32_t dead_pid);
  int find_dead_party() const;  // a rank whose process is gone, or -1

  int fd_;
  void* base_;
  size_t bytes_;
  uint64_t pidns_;  // this process's pid namespace: only pids of the same one can be checked
  int rank_ = -1;
  std::atomic<bool> in_wait_{false};
};

}  // namespace wb
