// SPDX-License-Identifier: Apache-2.0
// The dispatch ring: how rank 0 of a tensor-parallel group hands each request to every rank through
// POSIX shared memory, as vLLM's shared-memory MessageQueue does (vllm/distributed/device_communicators/
// shm_broadcast.py), and how the ranks wait for it: sched_yield polling, sleeps, a futex, a pause spin,
// MWAITX/UMWAIT, or an adaptive spin-then-park. Host-only (no CUDA); every wait has a deadline and the
// ring's abort word ends it. All timestamps are CLOCK_MONOTONIC (clock.hpp), comparable across processes.
//
// Rank 0 publishes request k (its arrival time in slot k % kRingSlots, then the sequence word); each
// rank acks k once its forward for k is done, and rank 0 publishes k + 1 only after every ack of k
// (a tensor-parallel step ends in a collective every rank joins), so a slot is never overwritten unread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace wb {

constexpr int kRingMaxRanks = 256;
constexpr int kRingSlots = 64;

enum class RingWait : int {
  kYield = 0,     // sched_yield between looks (vLLM's MessageQueue reader)
  kSleep = 1,     // nanosleep(param_ns) between looks (its VLLM_SLEEP_WHEN_IDLE back-off)
  kFutex = 2,     // futex sleep on the sequence word; the publisher wakes sleepers
  kPause = 3,     // pause-instruction spin (VLLM_USE_SPINLOOP_EXT's fallback)
  kMwaitx = 4,    // MONITORX/MWAITX on the sequence word's line, param = TSC cycles a wait
  kUmwait = 5,    // UMONITOR/UMWAIT (C0.1), param = TSC cycles a wait
  kAdaptive = 6,  // pause spin for param_ns, then futex (spin-then-park)
};

struct RingWaitResult {
  uint32_t outcome = 0;    // protocol.hpp Outcome: kReleased, kExpired or kAborted
  int64_t recv_ns = 0;     // when this rank saw the request
  int64_t arrival_ns = 0;  // the request's arrival on rank 0, as rank 0 published it
  int64_t cpu_ns = 0;      // the waiting thread's CPU time inside wait()
  int64_t wall_ns = 0;
  int32_t woke_cpu = -1;  // the CPU it saw the request on (sched_getcpu)
  int32_t off_cpu = 0;    // voluntary context switches during the wait: > 0 means it left its core
};

class DispatchRing {
 public:
  // create: make the segment /dev/shm/NAME (it must not exist); else open an existing one.
  DispatchRing(const std::string& name, int ranks, bool create);
  ~DispatchRing();
  DispatchRing(const DispatchRing&) = delete;
  DispatchRing& operator=(const DispatchRing&) = delete;

  int ranks() const { return ranks_; }
  // Removes the name (mappings stay valid): once every rank has opened it, nothing can leak.
  void unlink();
  // Rank 0: request `seq` (1, 2, ...) arrived at arrival_ns; wakes the ranks; returns when it is published.
  int64_t publish(uint32_t seq, int64_t arrival_ns);
  // Waits until request `seq` is published, the ring is aborted, or timeout_s passes.
  RingWaitResult wait(uint32_t seq, RingWait how, int64_t param, double timeout_s);
  void ack(int rank, uint32_t seq);
  // Rank 0: until every rank but `self` acked `seq`; returns the time it saw the last ack. Throws
  // WaitExpired past timeout_s, WaitError once aborted.
  int64_t wait_acks(uint32_t seq, int self, double timeout_s);
  // Sleeps until t_ns (the last ~200 us spun, for precision); false if aborted first.
  bool sleep_until(int64_t t_ns);
  // Ends every wait on the ring, in every process, with kAborted.
  void abort();
  bool aborted() const;

 private:
  struct Layout;
  std::string name_;
  int ranks_;
  bool owner_;
  bool linked_;
  Layout* l_ = nullptr;
};

}  // namespace wb
