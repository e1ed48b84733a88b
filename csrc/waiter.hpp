// SPDX-License-Identifier: Apache-2.0
// One wait strategy instance: arm -> (work queued behind it) -> release -> complete. The three
// mechanisms (device-resident spin, front-end stream wait, host-side wait) share this interface,
// the host-mapped protocol words, and the rule that every wait ends by its deadline or abort.
#pragma once

#include <pthread.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cuda_resources.hpp"
#include "protocol.hpp"

namespace wb {

// The choices of a waiter's settings. Python's strategy table (waitbench/strategies.py) names and
// checks them; the bindings expose each as an enum whose members are those names in upper case
// ('per-poller' is FlagLines.PER_POLLER).
enum class WaiterKind { kDeviceSpin, kStreamWaitValue, kHostSpin, kHostYield, kHostBlock, kEventSync, kExternal };
enum class FlagLocation { kHost, kDevice };    // where the release word lives
enum class PollLoad { kVolatile, kAcquire };   // the spin kernel's load of the flag
enum class FlagLines { kShared, kPerPoller };  // every poller polls one word, or each its own 16-byte line
enum class EventSync { kBlocking, kSpin };     // how cudaEventSynchronize waits (event-sync)

// One waiter's settings, already checked by the strategy table: the native core checks only what
// depends on the device (threads its registers allow, blocks that can be resident, shared memory).
struct WaiterConfig {
  WaiterKind kind = WaiterKind::kDeviceSpin;
  int device = 0;
  int blocks = 1;
  int threads = 32;
  int pollers = 1;
  int registers = 32;
  int smem_bytes = 0;
  int check_every = 10000;
  FlagLocation flag = FlagLocation::kHost;
  PollLoad poll = PollLoad::kVolatile;
  FlagLines flag_lines = FlagLines::kShared;
  BackoffMode backoff = kBackoffNone;
  int backoff_ns = 0;
  int backoff_cap_ns = 0;
  int64_t spin_us = -1;
  EventSync sync = EventSync::kBlocking;
  double timeout_s = 10.0;
};

struct WaitResult {
  std::string status;           // released | expired | aborted
  int64_t release_ns = 0;       // host time of the release (0 if never released)
  int64_t ack_ns = 0;           // host time the GPU's ack was seen
  uint64_t wake_gt_ns = 0;      // device %globaltimer of the last block's observation (device waits)
  int64_t host_observe_ns = 0;  // host waits: when the waiting thread saw the release
  int64_t wait_cpu_ns = -1;     // host waits: CPU time of the waiting thread
  int64_t wait_wall_ns = -1;
};

// What a user-supplied device waiter (cupy, numba, NVRTC) is given at each arm: the protocol words
// (see protocol.hpp) as device addresses, its generation, its deadline and the stream to launch on.
struct ExternalLaunch {
  uint32_t gen;
  uint64_t flag_addr;   // const uint32_t*: released once (int32_t)(*flag - gen) >= 0
  uint64_t abort_addr;  // const uint32_t*: nonzero = abort
  uint64_t slots_addr;  // BlockSlot[blocks]: write armed, then (on any exit) wake_gt, outcome, ack
  uint64_t timeout_ns;  // end by yourself this long after you started (status kExpired)
  uint64_t stream;      // cudaStream_t to launch on
  int blocks;
};
using ExternalLauncher = std::function<void(const ExternalLaunch&)>;

class Waiter {
 public:
  static std::unique_ptr<Waiter> create(const WaiterConfig& cfg);
  // A device-resident waiter whose kernel the caller launches (through `launch`) at each arm; the
  // arming, release, timing and deadline checks are the built-in ones (cfg.kind: kExternal).
  static std::unique_ptr<Waiter> create_external(const WaiterConfig& cfg, ExternalLauncher launch);
  virtual ~Waiter() = default;

  // Starts a new wait and returns once it is resident (device) or waiting (stream, host).
  // Throws WaitExpired (after aborting it) if it cannot get there before its deadline.
  void arm();
  // Releases the wait; returns the host time of the releasing store.
  int64_t release();
  // Blocks until the wait has ended (released and acknowledged, expired, or aborted); throws
  // WaitError if that does not happen within timeout_s.
  WaitResult wait(double timeout_s);
  // Ends the wait now (status 'aborted'); safe to call at any time, from any thread.
  void abort();

  bool armed() const { return armed_; }
  const WaiterConfig& config() const { return cfg_; }
  virtual bool device_clock() const = 0;  // is the observation time a %globaltimer reading?
  virtual std::map<std::string, int64_t> shape() const { return {}; }
  std::vector<uint32_t> sm_ids() const;
  // The host thread that waits, for waiters that have one (host waits): the trials pin it.
  virtual bool host_thread(pthread_t* out) const { return false; }

 protected:
  explicit Waiter(const WaiterConfig& cfg, int slots);
  virtual void start(uint32_t gen, int64_t timeout_ns) = 0;
  virtual bool is_armed(uint32_t gen) const;
  virtual void do_release(uint32_t gen) = 0;
  virtual void do_abort() = 0;
  // Fills everything but release_ns; false while the wait is still going.
  virtual bool poll_done(uint32_t gen, WaitResult* out) = 0;
  // True when this waiter's kernels write the ack with a relaxed store, ahead of outcome and
  // wake_gt (the built-in kernels: a release store costs ~1 us of round trip); the host then
  // times the ack and settle()s for the rest.
  virtual bool acks_relaxed() const { return true; }
  // After the ack: the work queued behind the wait has finished once this returns (by default the
  // owner synchronizes its stream; a host waiter's own thread has done so before it says done, so
  // the timing thread makes no CUDA call between two trials).
  virtual void finish();
  // Aborts and collects a wait still armed (subclass destructors call it: it uses their state).
  void shutdown() noexcept;

  ControlWords* control() const { return static_cast<ControlWords*>(control_.host()); }
  ControlWords* control_dev() const { return static_cast<ControlWords*>(control_.device()); }
  BlockSlot* slots() const { return static_cast<BlockSlot*>(slots_.host()); }
  BlockSlot* slots_dev() const { return static_cast<BlockSlot*>(slots_.device()); }
  bool slots_acked(uint32_t gen, int n) const;
  // Before a launch: outcome = pending and wake_gt = 0 in every slot, so settle() can tell the
  // kernel's values from the last wait's.
  void reset_slots();
  // After the acks of n slots were seen: waits (at most kSettleNs, then WaitError) until each slot's
  // outcome, and wake_gt for a release, have landed too. No-op unless acks_relaxed().
  void settle(uint32_t gen, int n) const;
  static constexpr int64_t kSettleNs = 100000000;  // 0.1 s: the stores leave the GPU right behind the ack
  // Device waiters: done once every block acked; the worst outcome and the last wake time.
  bool poll_slots(uint32_t gen, WaitResult* out) const;

  WaiterConfig cfg_;
  int n_slots_;
  MappedHostBuffer control_;
  MappedHostBuffer slots_;
  Stream stream_;  // the wait and the work queued behind it
  uint32_t gen_ = 0;
  bool armed_ = false;
  int64_t release_ns_ = 0;
};

}  // namespace wb
