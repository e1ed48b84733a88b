// SPDX-License-Identifier: Apache-2.0
// The device-resident spin waiter: NCCL's way to wait (pollers on a flag, the rest parked at a block
// barrier), launched with the kernels of device_waits.cu and checked against what the device allows.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "common.hpp"
#include "device_waits.hpp"
#include "release_flag.hpp"
#include "waiter_kinds.hpp"

namespace wb {
namespace {

std::string arg_error(const std::string& name, int64_t value, const std::string& valid) {
  return name + "=" + std::to_string(value) + " is invalid: " + valid;
}

size_t flag_words(const WaiterConfig& cfg) {
  if (cfg.flag_lines == FlagLines::kShared) return 1;
  return static_cast<size_t>(std::max(cfg.blocks, 1)) * static_cast<size_t>(std::max(cfg.pollers, 1)) * kLineWords;
}

class DeviceSpinWaiter final : public Waiter {
 public:
  explicit DeviceSpinWaiter(const WaiterConfig& cfg)
      : Waiter(cfg, cfg.blocks),
        flag_(cfg.flag == FlagLocation::kDevice, flag_words(cfg), control(), control_dev()) {
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
    if (registers_ == 0) {
      const std::string valid = "expected a multiple of 32 in [32, " + std::to_string(best_max_threads) +
                                "] (the most a block of this kernel can have on this GPU with registers <= " +
                                std::to_string(cfg_.registers) + ")";
      throw std::invalid_argument(arg_error("threads", cfg_.threads, valid));
    }
    int optin = 0;
    WB_CUDA(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, cfg_.device));
    const int smem_max = optin - info_.static_smem_bytes;
    if (cfg_.smem_bytes < 0 || cfg_.smem_bytes > smem_max) {
      throw std::invalid_argument(
          arg_error("smem_bytes", cfg_.smem_bytes, "expected [0, " + std::to_string(smem_max) + "] on this GPU"));
    }
    WB_CUDA(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, cfg_.device));
    blocks_per_sm_ = spin_blocks_per_sm(registers_, cfg_.threads, cfg_.smem_bytes);
    const int64_t max_blocks = static_cast<int64_t>(blocks_per_sm_) * sm_count_;
    if (cfg_.blocks < 1 || cfg_.blocks > max_blocks) {
      const std::string valid = "expected [1, " + std::to_string(max_blocks) + "]: at most " +
                                std::to_string(blocks_per_sm_) + " block(s) of this shape fit on one SM x " +
                                std::to_string(sm_count_) +
                                " SMs; blocks that cannot all be resident at once could never all be waiting";
      throw std::invalid_argument(arg_error("blocks", cfg_.blocks, valid));
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
    p.backoff_mode = cfg_.backoff;
    p.backoff_ns = static_cast<uint32_t>(cfg_.backoff_ns);
    p.backoff_cap_ns = static_cast<uint32_t>(cfg_.backoff_cap_ns);
    p.poll_acquire = cfg_.poll == PollLoad::kAcquire ? 1u : 0u;
    p.flag_stride = cfg_.flag_lines == FlagLines::kPerPoller ? static_cast<uint32_t>(kLineWords) : 0u;
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
};

}  // namespace

std::unique_ptr<Waiter> make_device_spin_waiter(const WaiterConfig& cfg) {
  return std::make_unique<DeviceSpinWaiter>(cfg);
}

}  // namespace wb
