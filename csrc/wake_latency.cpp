// SPDX-License-Identifier: Apache-2.0
// Wake-up trial loop, clock calibration and launch floor (see wake_latency.hpp).
#include "wake_latency.hpp"

#include <memory>

#include "clock.hpp"
#include "common.hpp"
#include "cpu_affinity.hpp"
#include "cuda_resources.hpp"
#include "device_waits.hpp"

namespace wb {

TrialSamples run_trials(Waiter& waiter, int n, int64_t gap_ns) {
  const CpuPair cpus = choose_cpu_pair();
  const ScopedAffinity timer_cpu(pthread_self(), cpus.timer);
  std::unique_ptr<ScopedAffinity> waiter_cpu;
  pthread_t host_thread;
  if (waiter.host_thread(&host_thread)) waiter_cpu = std::make_unique<ScopedAffinity>(host_thread, cpus.waiter);
  TrialSamples s;
  const double wait_timeout_s = waiter.config().timeout_s + 5.0;
  for (int i = 0; i < n; ++i) {
    waiter.arm();
    spin_for_ns(gap_ns);
    waiter.release();
    const WaitResult r = waiter.wait(wait_timeout_s);
    s.release_ns.push_back(r.release_ns);
    s.ack_ns.push_back(r.ack_ns);
    s.wake_gt_ns.push_back(static_cast<int64_t>(r.wake_gt_ns));
    s.host_observe_ns.push_back(r.host_observe_ns);
    s.wait_cpu_ns.push_back(r.wait_cpu_ns);
    s.wait_wall_ns.push_back(r.wait_wall_ns);
    s.outcome.push_back(r.status == "released" ? kReleased : r.status == "expired" ? kExpired : kAborted);
  }
  return s;
}

namespace {
struct ProbeWords {
  uint32_t ping;
  uint32_t pad0[15];
  uint32_t pong_ack;
  uint32_t pad1[15];
};
}  // namespace

ClockCalibration calibrate_clock(int device, int pings) {
  use_device(device);
  MappedHostBuffer words(sizeof(ProbeWords));
  MappedHostBuffer gts(sizeof(uint64_t) * static_cast<size_t>(pings));
  Stream stream;
  auto* w = static_cast<ProbeWords*>(words.host());
  auto* wd = static_cast<ProbeWords*>(words.device());
  const auto* gt = static_cast<const volatile uint64_t*>(gts.host());
  launch_clock_probe(&wd->ping, &wd->pong_ack, static_cast<uint64_t*>(gts.device()), static_cast<uint32_t>(pings),
                     5000000000ULL, stream.get());
  ClockCalibration best{0, 0.0, 1e18};
  // Wait for the probe to be running: its first answer tells us (ping 1 is only a start signal).
  for (int i = 1; i <= pings; ++i) {
    const int64_t t0 = now_ns();
    store_release(&w->ping, static_cast<uint32_t>(i));
    const int64_t limit = t0 + 2000000000LL;
    while (load_acquire(&w->pong_ack) != static_cast<uint32_t>(i)) {
      if (now_ns() > limit) {
        cudaStreamSynchronize(stream.get());
        throw WaitError("clock calibration: the GPU did not answer a ping within 2 s");
      }
      cpu_relax();
    }
    const int64_t t1 = now_ns();
    while (gt[i - 1] == 0) {  // written right behind the ack (a relaxed store), from a zeroed buffer
      if (now_ns() > limit) throw WaitError("clock calibration: the GPU acknowledged a ping without its time");
      cpu_relax();
    }
    if (i == 1) continue;  // the first ping also measures the probe's launch
    const double half = 0.5 * static_cast<double>(t1 - t0);
    if (half < best.uncertainty_ns) {
      best.host_ns = t0 + (t1 - t0) / 2;
      best.offset_ns = static_cast<double>(gt[i - 1]) - static_cast<double>(best.host_ns);
      best.uncertainty_ns = half;
    }
  }
  WB_CUDA(cudaStreamSynchronize(stream.get()));
  return best;
}

uint64_t timer_resolution_ns(int device) {
  use_device(device);
  MappedHostBuffer out(sizeof(uint64_t));
  Stream stream;
  launch_timer_resolution(static_cast<uint64_t*>(out.device()), stream.get());
  WB_CUDA(cudaStreamSynchronize(stream.get()));
  return *static_cast<volatile uint64_t*>(out.host());
}

std::vector<int64_t> launch_floor(int device, int n) {
  use_device(device);
  MappedHostBuffer slot_mem(sizeof(BlockSlot));
  Stream stream;
  auto* slot = static_cast<BlockSlot*>(slot_mem.host());
  auto* slot_dev = static_cast<BlockSlot*>(slot_mem.device());
  constexpr int kWarmup = 20;  // module load and the first launches are not the floor
  std::vector<int64_t> rtt;
  rtt.reserve(static_cast<size_t>(n));
  for (int i = 1; i <= n + kWarmup; ++i) {
    const int64_t t0 = now_ns();
    launch_ack(slot_dev, static_cast<uint32_t>(i), kReleased, stream.get());
    const int64_t limit = t0 + 2000000000LL;
    for (uint32_t turn = 1; load_acquire(&slot->ack) != static_cast<uint32_t>(i); ++turn) {
      if (turn % 64 == 0 && now_ns() > limit) throw WaitError("launch floor: a 1-warp kernel did not run within 2 s");
      cpu_relax();
    }
    const int64_t t1 = now_ns();
    if (i > kWarmup) rtt.push_back(t1 - t0);
    WB_CUDA(cudaStreamSynchronize(stream.get()));
  }
  return rtt;
}

}  // namespace wb
