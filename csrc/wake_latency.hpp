// SPDX-License-Identifier: Apache-2.0
// Wake-up timing: raw per-trial timestamps of arm -> release -> ack, the host <-> %globaltimer
// calibration that turns device observation times into latencies, and the launch floor.
// Everything here is timed in C++; Python only turns the raw arrays into percentiles.
#pragma once

#include <cstdint>
#include <vector>

#include "waiter.hpp"

namespace wb {

struct TrialSamples {
  std::vector<int64_t> release_ns;       // host time of each release
  std::vector<int64_t> ack_ns;           // host time the GPU's ack was seen
  std::vector<int64_t> wake_gt_ns;       // device %globaltimer at observation (device waits)
  std::vector<int64_t> host_observe_ns;  // host waits: when the waiting thread saw the release
  std::vector<int64_t> wait_cpu_ns;      // host waits: waiting thread's CPU time (-1 otherwise)
  std::vector<int64_t> wait_wall_ns;
  std::vector<int32_t> outcome;  // protocol Outcome of each trial
};

// n trials of arm -> sleep gap_ns -> release -> wait. Trials that expire or abort are kept (with
// their outcome) so the caller can count them, never silently dropped. The calling thread and the
// waiter's host thread (if it has one) run each on its own physical core for the trials
// (cpu_affinity.hpp), then go back where they were.
TrialSamples run_trials(Waiter& waiter, int n, int64_t gap_ns);

struct ClockCalibration {
  int64_t host_ns;        // host time of the best ping
  double offset_ns;       // %globaltimer - host clock at host_ns
  double uncertainty_ns;  // half the best ping's round trip
};

// Pings a one-thread kernel `pings` times and keeps the ping with the smallest round trip (NTP's rule).
ClockCalibration calibrate_clock(int device, int pings);
// Smallest step of %globaltimer seen on the device.
uint64_t timer_resolution_ns(int device);
// The floor of every wake path: host launches a 1-warp ack kernel, then spins until it sees the ack.
std::vector<int64_t> launch_floor(int device, int n);

}  // namespace wb
