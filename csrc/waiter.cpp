// SPDX-License-Identifier: Apache-2.0
// The three waiter mechanisms behind one interface (see waiter.hpp).
#include "waiter.hpp"

#include <algorithm>
#include <atomic>
#include <stdexcept>

#include "clock.hpp"
#include "common.hpp"
#include "device_waits.hpp"
#include "host_waits.hpp"
#include "stream_waits.hpp"
#include "watchdog.hpp"

namespace wb {
namespace {

const WaiterConfig& on_device(const WaiterConfig& cfg) {
  use_device(cfg.device);
  return cfg;
}

std::string arg_error(const std::string& name, int64_t value, const std::string& valid) {
  return name + "=" + std::to_string(value) + " is invalid: " + valid;
}

int greatest_priority() {
  int least = 0, greatest = 0;
  WB_CUDA(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  return greatest;
}

// Where the release word(s) live, and how a release reaches them. One word, or (per-poller lines)
// one word every kLineWords for each poller, all written with the generation at a release.
constexpr size_t kLineWords = 4;        // 16-byte lines, as NCCL LL's
constexpr size_t kMaxFlagWords = 1u << 22;

class ReleaseFlag {
 public:
  ReleaseFlag(bool on_device, size_t words, ControlWords* host_words, ControlWords* dev_words)
      : words_(words), host_words_(host_words), dev_words_(dev_words) {
    if (words_ == 0 || words_ > kMaxFlagWords) {
      throw std::invalid_argument("flag_lines: " + std::to_string(words_) + " flag words are invalid: expected [1, " +
                                  std::to_string(kMaxFlagWords) + "] (fewer blocks x pollers)");
    }
    if (words_ > 1) lines_ = std::make_unique<MappedHostBuffer>(words_ * sizeof(uint32_t));
    if (on_device) {
      word_ = std::make_unique<DeviceBuffer>(words_ * sizeof(uint32_t));
      // A dedicated high-priority stream: its write is not queued behind the waiter's own stream.
      stream_ = std::make_unique<Stream>(greatest_priority());
    }
  }
  const uint32_t* device_address() const {
    if (word_) return static_cast<const uint32_t*>(word_->get());
    return lines_ ? static_cast<const uint32_t*>(lines_->device()) : &dev_words_->flag;
  }
  void write(uint32_t gen) const {
    if (word_ && words_ == 1) {
      enqueue_write_value(stream_->get(), static_cast<uint32_t*>(word_->get()), gen);
      return;
    }
    uint32_t* host = lines_ ? static_cast<uint32_t*>(lines_->host()) : &host_words_->flag;
    for (size_t i = 0; i < words_; ++i) store_release(host + i, gen);
    if (word_) {  // device lines: one copy of the staged words (the previous copy ended before the ack)
      WB_CUDA(cudaMemcpyAsync(word_->get(), host, words_ * sizeof(uint32_t), cudaMemcpyHostToDevice, stream_->get()));
    }
  }

 private:
  size_t words_;
  ControlWords* host_words_;
  ControlWords* dev_words_;
  std::unique_ptr<MappedHostBuffer> lines_;  // per-poller words in host-mapped memory (or the staging copy)
  std::unique_ptr<DeviceBuffer> word_;
  std::unique_ptr<Stream> stream_;
};

size_t flag_words(const WaiterConfig& cfg) {
  if (cfg.flag_lines == "shared") return 1;
  if (cfg.flag_lines != "per-poller") {
    throw std::invalid_argument("flag_lines='" + cfg.flag_lines + "' is invalid: expected one of shared, per-poller");
  }
  return static_cast<size_t>(std::max(cfg.blocks, 1)) * static_cast<size_t>(std::max(cfg.pollers, 1)) * kLineWords;
}

// ---- device-resident spin -------------------------------------------------------------------
class DeviceSpinWaiter final : public Waiter {
 public:
  explicit DeviceSpinWaiter(const WaiterConfig& cfg)
      : Waiter(cfg, cfg.blocks), flag_(cfg.flag == "device", flag_words(cfg), control(), control_dev()) {
    validate();
  }
  ~DeviceSpinWaiter() override { shutdown(); }
  bool device_clock() const override { return true; }
  std::map<std::string, int64_t> shape() const override {
    return {{"blocks", cfg_.blocks},
            {"threads", cfg_.threads},
            {"pollers", cfg_.pollers},
            {"regs_per_thread", info_.regs_per_thread},
            {"smem_bytes", cfg_.smem_bytes + info_.static_smem_bytes},
            {"blocks_per_sm", blocks_per_sm_},
            {"max_resident_blocks", static_cast<int64_t>(blocks_per_sm_) * sm_count_}};
  }

 private:
  void validate() {
    // `registers` is a cap, as NCCL's -maxrregcount=96: take the largest compiled variant under it
    // whose register footprint still lets a block of `threads` threads launch on this device.
    registers_ = 0;
    int best_max_threads = 0;
    for (int variant : kRegisterVariants) {
      if (variant > cfg_.registers) break;
      const KernelInfo info = spin_kernel_info(variant);
      best_max_threads = std::max(best_max_threads, info.max_threads_per_block);
      if (cfg_.threads <= info.max_threads_per_block) {
        registers_ = variant;
        info_ = info;
      }
    }
    if (cfg_.threads < 32 || cfg_.threads % 32 != 0 || registers_ == 0) {
      throw std::invalid_argument(arg_error("threads", cfg_.threads,
          "expected a multiple of 32 in [32, " + std::to_string(best_max_threads) + "] (the most a block of "
          "this kernel can have on this GPU with registers <= " + std::to_string(cfg_.registers) + ")"));
    }
    if (cfg_.pollers < 1 || cfg_.pollers > cfg_.threads) {
      throw std::invalid_argument(arg_error("pollers", cfg_.pollers, "expected [1, threads=" +
                                                                         std::to_string(cfg_.threads) + "]"));
    }
    int optin = 0;
    WB_CUDA(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, cfg_.device));
    const int smem_max = optin - info_.static_smem_bytes;
    if (cfg_.smem_bytes < 0 || cfg_.smem_bytes > smem_max) {
      throw std::invalid_argument(arg_error("smem_bytes", cfg_.smem_bytes,
                                            "expected [0, " + std::to_string(smem_max) + "] on this GPU"));
    }
    WB_CUDA(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, cfg_.device));
    blocks_per_sm_ = spin_blocks_per_sm(registers_, cfg_.threads, cfg_.smem_bytes);
    const int64_t max_blocks = static_cast<int64_t>(blocks_per_sm_) * sm_count_;
    if (cfg_.blocks < 1 || cfg_.blocks > max_blocks) {
      throw std::invalid_argument(arg_error("blocks", cfg_.blocks,
          "expected [1, " + std::to_string(max_blocks) + "]: at most " + std::to_string(blocks_per_sm_) +
          " block(s) of this shape fit on one SM x " + std::to_string(sm_count_) +
          " SMs; blocks that cannot all be resident at once could never all be waiting"));
    }
    if (cfg_.poll != "volatile" && cfg_.poll != "acquire") {
      throw std::invalid_argument("poll='" + cfg_.poll + "' is invalid: expected one of volatile, acquire");
    }
    if (cfg_.backoff == "none") {
      mode_ = kBackoffNone;
    } else if (cfg_.backoff == "fixed") {
      mode_ = kBackoffFixed;
    } else if (cfg_.backoff == "exp") {
      mode_ = kBackoffExp;
    } else {
      throw std::invalid_argument("backoff='" + cfg_.backoff + "' is invalid: expected one of none, fixed, exp");
    }
  }

  void start(uint32_t gen, int64_t timeout_ns) override {
    SpinParams p{};
    p.flag = flag_.device_address();
    p.abort = &control_dev()->abort;
    p.slots = slots_dev();
    p.timeout_ns = static_cast<uint64_t>(timeout_ns);
    p.gen = gen;
    p.pollers = static_cast<uint32_t>(cfg_.pollers);
    p.check_every = static_cast<uint32_t>(cfg_.check_every);
    p.backoff_mode = mode_;
    p.backoff_ns = static_cast<uint32_t>(cfg_.backoff_ns);
    p.backoff_cap_ns = static_cast<uint32_t>(cfg_.backoff_cap_ns);
    p.poll_acquire = cfg_.poll == "acquire" ? 1u : 0u;
    p.flag_stride = cfg_.flag_lines == "per-poller" ? static_cast<uint32_t>(kLineWords) : 0u;
    p.seed = 1.0f;
    launch_spin(registers_, cfg_.blocks, cfg_.threads, cfg_.smem_bytes, p, stream_.get());
  }
  void do_release(uint32_t gen) override { flag_.write(gen); }
  void do_abort() override {}  // the kernel reads the abort word itself
  bool poll_done(uint32_t gen, WaitResult* out) override { return poll_slots(gen, out); }

  ReleaseFlag flag_;
  KernelInfo info_{};
  int registers_ = 0;  // the compiled variant in use (<= cfg_.registers)
  int sm_count_ = 0;
  int blocks_per_sm_ = 0;
  uint32_t mode_ = kBackoffNone;
};

// ---- a device waiter launched by the caller (research strategies) -----------------------------
class ExternalDeviceWaiter final : public Waiter {
 public:
  ExternalDeviceWaiter(const WaiterConfig& cfg, ExternalLauncher launch)
      : Waiter(cfg, cfg.blocks), flag_(cfg.flag == "device", 1, control(), control_dev()), launch_(std::move(launch)) {
    if (cfg.blocks < 1 || cfg.blocks > 65535) {
      throw std::invalid_argument(arg_error("blocks", cfg.blocks, "expected [1, 65535]"));
    }
  }
  ~ExternalDeviceWaiter() override { shutdown(); }
  bool device_clock() const override { return true; }
  bool acks_relaxed() const override { return false; }  // the protocol's kernels write the ack last, with release
  std::map<std::string, int64_t> shape() const override { return {{"blocks", cfg_.blocks}}; }

 private:
  void start(uint32_t gen, int64_t timeout_ns) override {
    ExternalLaunch l{gen,
                     reinterpret_cast<uint64_t>(flag_.device_address()),
                     reinterpret_cast<uint64_t>(&control_dev()->abort),
                     reinterpret_cast<uint64_t>(slots_dev()),
                     static_cast<uint64_t>(timeout_ns),
                     reinterpret_cast<uint64_t>(stream_.get()),
                     cfg_.blocks};
    launch_(l);
  }
  void do_release(uint32_t gen) override { flag_.write(gen); }
  void do_abort() override {}
  bool poll_done(uint32_t gen, WaitResult* out) override { return poll_slots(gen, out); }

  ReleaseFlag flag_;
  ExternalLauncher launch_;
};

// ---- front-end stream wait ------------------------------------------------------------------
class StreamWaitValueWaiter final : public Waiter {
 public:
  explicit StreamWaitValueWaiter(const WaiterConfig& cfg)
      : Waiter(cfg, 1), flag_(cfg.flag == "device", 1, control(), control_dev()) {}
  ~StreamWaitValueWaiter() override { shutdown(); }
  bool device_clock() const override { return true; }

 private:
  void start(uint32_t gen, int64_t timeout_ns) override {
    interrupted_.store(kPending);
    // The armed marker is a front-end write, as the wait itself: no kernel, no SM.
    enqueue_write_value(stream_.get(), &slots_dev()[0].armed, gen);
    enqueue_wait_value(stream_.get(), flag_.device_address(), gen);
    launch_ack(slots_dev(), gen, kReleased, stream_.get());
    const int device = cfg_.device;
    watchdog_.arm(now_ns() + timeout_ns, [this, gen, device] {
      uint32_t expected = kPending;
      interrupted_.compare_exchange_strong(expected, kExpired);
      use_device(device);
      flag_.write(gen);
    });
  }
  void do_release(uint32_t gen) override {
    watchdog_.cancel();
    flag_.write(gen);
  }
  void do_abort() override {
    uint32_t expected = kPending;
    interrupted_.compare_exchange_strong(expected, kAborted);
    watchdog_.cancel();
    flag_.write(gen_);
  }
  bool poll_done(uint32_t gen, WaitResult* out) override {
    if (!slots_acked(gen, 1)) return false;
    out->ack_ns = now_ns();
    settle(gen, 1);
    out->wake_gt_ns = slots()[0].wake_gt;
    watchdog_.cancel();  // returns once a deadline that fired at the same moment has said so
    const uint32_t why = interrupted_.load();
    out->status = why == kPending ? "released" : why == kExpired ? "expired" : "aborted";
    return true;
  }

  ReleaseFlag flag_;
  std::atomic<uint32_t> interrupted_{kPending};
  Watchdog watchdog_;
};

// ---- host-side waits ------------------------------------------------------------------------
class HostWaiter final : public Waiter {
 public:
  HostWaiter(const WaiterConfig& cfg, HostWaitMode mode) : Waiter(cfg, 1), mode_(mode) {
    if (mode_ == HostWaitMode::kEventSync) {
      if (cfg.sync != "blocking" && cfg.sync != "spin") {
        throw std::invalid_argument("sync='" + cfg.sync + "' is invalid: expected one of blocking, spin");
      }
      event_ = std::make_unique<Event>(cudaEventDisableTiming |
                                       (cfg.sync == "blocking" ? cudaEventBlockingSync : cudaEventDefault));
      wait_stream_ = std::make_unique<Stream>();
    }
    const int64_t spin_ns = cfg.spin_us < 0 ? -1 : cfg.spin_us * 1000;
    thread_ = std::make_unique<HostWaitThread>(cfg.device, mode_, spin_ns, stream_.get(), slots_dev());
  }
  ~HostWaiter() override { shutdown(); }
  bool device_clock() const override { return false; }

 private:
  void start(uint32_t gen, int64_t timeout_ns) override {
    thread_->clear_interrupt();
    ack_ns_ = 0;
    cudaEvent_t ev = nullptr;
    if (mode_ == HostWaitMode::kEventSync) {
      enqueue_wait_value(wait_stream_->get(), &control_dev()->flag, gen);
      WB_CUDA(cudaEventRecord(event_->get(), wait_stream_->get()));
      ev = event_->get();
      watchdog_.arm(now_ns() + timeout_ns, [this, gen] {
        thread_->interrupt(kExpired);
        store_release(&control()->flag, gen);
      });
    }
    thread_->start(gen, timeout_ns, ev);
  }
  bool is_armed(uint32_t gen) const override { return thread_->waiting(gen); }
  void do_release(uint32_t gen) override {
    if (mode_ == HostWaitMode::kEventSync) {
      watchdog_.cancel();
      store_release(&control()->flag, gen);
    } else {
      thread_->release(gen);
    }
  }
  void do_abort() override {
    thread_->interrupt(kAborted);
    if (mode_ == HostWaitMode::kEventSync) {
      watchdog_.cancel();
      store_release(&control()->flag, gen_);
    }
  }
  bool poll_done(uint32_t gen, WaitResult* out) override {
    // The ack is timed when first seen, even if the waiting thread has not yet said it is done.
    if (ack_ns_ == 0 && slots_acked(gen, 1)) ack_ns_ = now_ns();
    HostWaitDone d;
    if (!thread_->done(gen, &d)) return false;
    if (d.outcome == kReleased) {
      if (ack_ns_ == 0) return false;  // the work has not run yet
      settle(gen, 1);
    }
    out->ack_ns = ack_ns_ != 0 ? ack_ns_ : now_ns();
    out->status = d.outcome == kReleased ? "released" : d.outcome == kExpired ? "expired" : "aborted";
    out->host_observe_ns = d.observe_ns;
    out->wait_cpu_ns = d.cpu_ns;
    out->wait_wall_ns = d.wall_ns;
    out->wake_gt_ns = d.outcome == kReleased ? slots()[0].wake_gt : 0;
    return true;
  }

  const HostWaitMode mode_;
  int64_t ack_ns_ = 0;  // host time the ack of the current wait was first seen (0: not yet)
  std::unique_ptr<Event> event_;
  std::unique_ptr<Stream> wait_stream_;
  Watchdog watchdog_;
  std::unique_ptr<HostWaitThread> thread_;  // last: joined before the objects it uses go away
};

}  // namespace

// ---- the common part ------------------------------------------------------------------------
Waiter::Waiter(const WaiterConfig& cfg, int slots)
    : cfg_(on_device(cfg)),
      n_slots_(slots),
      control_(sizeof(ControlWords)),
      slots_(sizeof(BlockSlot) * static_cast<size_t>(slots > 0 ? slots : 1)),
      stream_() {
  if (cfg.timeout_s <= 0) {
    throw std::invalid_argument("timeout_s=" + std::to_string(cfg.timeout_s) + " is invalid: expected > 0");
  }
}

std::unique_ptr<Waiter> Waiter::create(const WaiterConfig& cfg) {
  if (cfg.flag != "host" && cfg.flag != "device") {
    throw std::invalid_argument("flag='" + cfg.flag + "' is invalid: expected one of host, device");
  }
  if (cfg.kind == "device-spin") return std::make_unique<DeviceSpinWaiter>(cfg);
  if (cfg.kind == "stream-wait-value") return std::make_unique<StreamWaitValueWaiter>(cfg);
  if (cfg.kind == "host-spin") return std::make_unique<HostWaiter>(cfg, HostWaitMode::kSpin);
  if (cfg.kind == "host-yield") return std::make_unique<HostWaiter>(cfg, HostWaitMode::kYield);
  if (cfg.kind == "host-block") return std::make_unique<HostWaiter>(cfg, HostWaitMode::kBlock);
  if (cfg.kind == "event-sync") return std::make_unique<HostWaiter>(cfg, HostWaitMode::kEventSync);
  throw std::invalid_argument("kind='" + cfg.kind +
                              "' is invalid: expected one of device-spin, stream-wait-value, host-spin, host-yield, "
                              "host-block, event-sync");
}

std::unique_ptr<Waiter> Waiter::create_external(const WaiterConfig& cfg, ExternalLauncher launch) {
  if (cfg.kind != "external") {
    throw std::invalid_argument("kind='" + cfg.kind + "' is invalid: create_external takes kind 'external'");
  }
  if (cfg.flag != "host" && cfg.flag != "device") {
    throw std::invalid_argument("flag='" + cfg.flag + "' is invalid: expected one of host, device");
  }
  return std::make_unique<ExternalDeviceWaiter>(cfg, std::move(launch));
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
      throw WaitError("the waiter was not resident within timeout_s=" + std::to_string(cfg_.timeout_s) +
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
  use_device(cfg_.device);
  WB_CUDA(cudaStreamSynchronize(stream_.get()));
  armed_ = false;
  return r;
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
