// SPDX-License-Identifier: Apache-2.0
// The common part of every waiter (see waiter.hpp) and the factory of its mechanisms (waiter_kinds.hpp).
#include "waiter.hpp"

#include <stdexcept>
#include <string>

#include "clock.hpp"
#include "common.hpp"
#include "waiter_kinds.hpp"

namespace wb {
namespace {

const WaiterConfig& on_device(const WaiterConfig& cfg) {
  use_device(cfg.device);
  return cfg;
}

}  // namespace

Waiter::Waiter(const WaiterConfig& cfg, int slots)
    : cfg_(on_device(cfg)),
      n_slots_(slots),
      control_(sizeof(ControlWords)),
      slots_(sizeof(BlockSlot) * static_cast<size_t>(slots > 0 ? slots : 1)),
      stream_() {}

std::unique_ptr<Waiter> Waiter::create(const WaiterConfig& cfg) {
  switch (cfg.kind) {
    case WaiterKind::kDeviceSpin: return make_device_spin_waiter(cfg);
    case WaiterKind::kStreamWaitValue: return make_stream_wait_value_waiter(cfg);
    case WaiterKind::kHostSpin: return make_host_waiter(cfg, HostWaitMode::kSpin);
    case WaiterKind::kHostYield: return make_host_waiter(cfg, HostWaitMode::kYield);
    case WaiterKind::kHostBlock: return make_host_waiter(cfg, HostWaitMode::kBlock);
    case WaiterKind::kEventSync: return make_host_waiter(cfg, HostWaitMode::kEventSync);
    case WaiterKind::kExternal: break;
  }
  throw std::invalid_argument("an external waiter is created with the kernel launcher it calls (create_external)");
}

std::unique_ptr<Waiter> Waiter::create_external(const WaiterConfig& cfg, ExternalLauncher launch) {
  return make_external_waiter(cfg, std::move(launch));
}

bool Waiter::is_armed(uint32_t gen) const {
  for (int i = 0; i < n_slots_; ++i) {
    if (load_acquire(&slots()[i].armed) != gen) return false;
  }
  return true;
}

bool Waiter::poll_slots(uint32_t gen, WaitResult* out) const {
  if (!slots_acked(gen, n_slots_)) return false;
  out->ack_ns = now_ns();
  settle(gen, n_slots_);
  uint32_t worst = kReleased;
  for (int i = 0; i < n_slots_; ++i) {
    const BlockSlot& s = slots()[i];
    if (s.outcome != kReleased) worst = s.outcome;
    if (s.wake_gt > out->wake_gt_ns) out->wake_gt_ns = s.wake_gt;
  }
  out->status = worst == kReleased ? "released" : worst == kExpired ? "expired" : "aborted";
  return true;
}

bool Waiter::slots_acked(uint32_t gen, int n) const {
  for (int i = 0; i < n; ++i) {
    if (load_acquire(&slots()[i].ack) != gen) return false;
  }
  return true;
}

void Waiter::reset_slots() {
  for (int i = 0; i < n_slots_; ++i) {
    __atomic_store_n(&slots()[i].outcome, static_cast<uint32_t>(kPending), __ATOMIC_RELAXED);
    __atomic_store_n(&slots()[i].wake_gt, static_cast<uint64_t>(0), __ATOMIC_RELAXED);
  }
}

void Waiter::settle(uint32_t gen, int n) const {
  if (!acks_relaxed()) return;
  const int64_t limit = now_ns() + kSettleNs;
  for (int i = 0; i < n; ++i) {
    const BlockSlot& s = slots()[i];
    for (;;) {
      const uint32_t outcome = __atomic_load_n(&s.outcome, __ATOMIC_ACQUIRE);
      if (outcome != kPending && (outcome != kReleased || __atomic_load_n(&s.wake_gt, __ATOMIC_ACQUIRE) != 0)) break;
      if (now_ns() > limit) {
        throw WaitError("the GPU acknowledged generation " + std::to_string(gen) + " but slot " + std::to_string(i) +
                        " got no outcome within 0.1 s");
      }
      cpu_relax();
    }
  }
}

void Waiter::arm() {
  use_device(cfg_.device);
  if (armed_) throw WaitError("the waiter is already armed: release or abort it, then wait(), before arming again");
  store_release(&control()->abort, 0);
  if (++gen_ == 0) ++gen_;
  const int64_t timeout_ns = static_cast<int64_t>(cfg_.timeout_s * 1e9);
  reset_slots();  // the previous wait's work has finished (wait() synchronized its stream)
  start(gen_, timeout_ns);
  armed_ = true;
  release_ns_ = 0;
  const int64_t deadline = now_ns() + timeout_ns;
  while (!is_armed(gen_)) {
    if (now_ns() > deadline) {
      abort();
      try {
        wait(5.0);
      } catch (...) {
      }
      throw WaitExpired("the waiter was not resident within timeout_s=" + std::to_string(cfg_.timeout_s) +
                        " s: other work may hold the GPU's SMs; it was aborted");
    }
    cpu_relax();
  }
}

int64_t Waiter::release() {
  if (!armed_) throw WaitError("release() before arm(): nothing is waiting");
  use_device(cfg_.device);
  const int64_t t = now_ns();
  do_release(gen_);
  release_ns_ = t;
  return t;
}

void Waiter::abort() {
  store_release(&control()->abort, 1);
  if (armed_) do_abort();
}

WaitResult Waiter::wait(double timeout_s) {
  if (!armed_) throw WaitError("wait() before arm(): nothing is waiting");
  const int64_t deadline = now_ns() + static_cast<int64_t>(timeout_s * 1e9);
  WaitResult r;
  // Nothing but the poll between release and ack: the clock is read every 64th turn (a few us)
  // and the CUDA runtime only after the ack.
  for (uint32_t turn = 1; !poll_done(gen_, &r); ++turn) {
    if (turn % 64 == 0 && now_ns() > deadline) {
      throw WaitError("the wait did not end within " + std::to_string(timeout_s) + " s");
    }
    cpu_relax();
  }
  r.release_ns = release_ns_;
  finish();
  armed_ = false;
  return r;
}

void Waiter::finish() {
  use_device(cfg_.device);
  WB_CUDA(cudaStreamSynchronize(stream_.get()));
}

void Waiter::shutdown() noexcept {
  if (!armed_) return;
  try {
    abort();
    wait(cfg_.timeout_s + 5.0);
  } catch (...) {
  }
}

std::vector<uint32_t> Waiter::sm_ids() const {
  std::vector<uint32_t> ids;
  for (int i = 0; i < n_slots_; ++i) ids.push_back(slots()[i].smid);
  return ids;
}

}  // namespace wb
