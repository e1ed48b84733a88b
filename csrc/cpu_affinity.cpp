// SPDX-License-Identifier: Apache-2.0
// Choosing and holding the CPUs of the wake-up trials (see cpu_affinity.hpp).
#include "cpu_affinity.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace wb {
namespace {

std::vector<int> parse_cpu_list(const std::string& s) {  // "3", "3,19", "2-3"
  std::vector<int> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) {
    const size_t dash = part.find('-');
    const int a = std::atoi(part.c_str());
    const int b = dash == std::string::npos ? a : std::atoi(part.c_str() + dash + 1);
    for (int c = a; c <= b; ++c) out.push_back(c);
  }
  return out;
}

std::vector<int> smt_siblings(int cpu) {
  std::ifstream f("/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/thread_siblings_list");
  std::string line;
  return std::getline(f, line) ? parse_cpu_list(line) : std::vector<int>{cpu};
}

}  // namespace

CpuPair choose_cpu_pair() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (pthread_getaffinity_np(pthread_self(), sizeof(allowed), &allowed) != 0) return {};
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  }
  if (cpus.size() < 2) return {};
  CpuPair pair;
  pair.timer = cpus[1];
  const std::vector<int> siblings = smt_siblings(pair.timer);
  for (int c : cpus) {
    if (std::find(siblings.begin(), siblings.end(), c) == siblings.end()) {
      pair.waiter = c;
      break;
    }
  }
  if (pair.waiter < 0) pair.waiter = cpus[0];  // every allowed CPU shares the timer's core
  return pair;
}

ScopedAffinity::ScopedAffinity(pthread_t thread, int cpu) : thread_(thread) {
  CPU_ZERO(&saved_);
  if (cpu < 0 || pthread_getaffinity_np(thread_, sizeof(saved_), &saved_) != 0) return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  pinned_ = pthread_setaffinity_np(thread_, sizeof(one), &one) == 0;
}

ScopedAffinity::~ScopedAffinity() {
  if (pinned_) pthread_setaffinity_np(thread_, sizeof(saved_), &saved_);
}

}  // namespace wb
