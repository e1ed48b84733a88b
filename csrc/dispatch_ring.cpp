// SPDX-License-Identifier: Apache-2.0
// The dispatch ring in shared memory and its waits (see dispatch_ring.hpp).
#include "dispatch_ring.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "clock.hpp"
#include "cpu_waits.hpp"
#include "futex.hpp"
#include "host_errors.hpp"
#include "protocol.hpp"

namespace wb {

namespace {
constexpr uint32_t kMagic = 0x57424452;       // "WBDR"
constexpr int64_t kFutexSliceNs = 100000000;  // a futex sleep re-checks the deadline at least this often
constexpr int64_t kSpinTailNs = 200000;       // sleep_until spins the last part

struct alignas(64) Line {
  std::atomic<uint32_t> value;
  uint32_t pad[15];
};

bool reached(uint32_t word, uint32_t seq) { return static_cast<int32_t>(word - seq) >= 0; }

int64_t voluntary_switches() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_nvcsw;
}
}  // namespace

struct DispatchRing::Layout {
  uint32_t magic;
  int32_t ranks;
  alignas(64) std::atomic<uint32_t> seq;  // the published request; abort shares its line, so a
  std::atomic<uint32_t> abort;            // monitor on the line wakes for either
  alignas(64) std::atomic<uint32_t> sleepers;
  alignas(64) int64_t arrival_ns[kRingSlots];
  Line acks[kRingMaxRanks];
};

DispatchRing::DispatchRing(const std::string& name, int ranks, bool create)
    : name_(name),
      ranks_(ranks),
      owner_(create),
      linked_(create) {
  if (ranks < 1 || ranks > kRingMaxRanks) {
    throw std::invalid_argument("ranks=" + std::to_string(ranks) + " is invalid: expected an int in [1, 256]");
  }
  if (name.empty() || name[0] != '/' || name.size() > 200) {
    throw std::invalid_argument("name='" + name + "' is invalid: expected '/' and up to 199 characters");
  }
  const int fd = shm_open(name.c_str(), create ? (O_RDWR | O_CREAT | O_EXCL) : O_RDWR, 0600);
  if (fd < 0) throw WaitError("shm_open(" + name + "): " + std::strerror(errno));
  if (create && ftruncate(fd, sizeof(Layout)) != 0) {
    const int e = errno;
    close(fd);
    shm_unlink(name.c_str());
    throw WaitError("ftruncate(" + name + "): " + std::strerror(e));
  }
  void* p = mmap(nullptr, sizeof(Layout), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) {
    if (create) shm_unlink(name.c_str());
    throw WaitError("mmap(" + name + "): " + std::strerror(errno));
  }
  l_ = static_cast<Layout*>(p);
  if (create) {
    l_->ranks = ranks;
    l_->magic = kMagic;  // zero-filled by ftruncate: the words start at 0
  } else if (l_->magic != kMagic || l_->ranks != ranks) {
    munmap(l_, sizeof(Layout));
    l_ = nullptr;
    throw WaitError("shared memory " + name + " is no dispatch ring of " + std::to_string(ranks) + " ranks");
  }
}

DispatchRing::~DispatchRing() {
  if (l_ != nullptr) munmap(l_, sizeof(Layout));
  if (owner_ && linked_) shm_unlink(name_.c_str());
}

void DispatchRing::unlink() {
  if (owner_ && linked_) shm_unlink(name_.c_str());
  linked_ = false;
}

int64_t DispatchRing::publish(uint32_t seq, int64_t arrival_ns) {
  l_->arrival_ns[seq % kRingSlots] = arrival_ns;
  l_->seq.store(seq, std::memory_order_seq_cst);
  if (l_->sleepers.load(std::memory_order_seq_cst) > 0) shared_futex_wake_all(&l_->seq);
  return now_ns();
}

RingWaitResult DispatchRing::wait(uint32_t seq, RingWait how, int64_t param, double timeout_s) {
  RingWaitResult r;
  const int64_t start = now_ns(), cpu0 = thread_cpu_ns(), switches0 = voluntary_switches();
  const int64_t deadline = start + static_cast<int64_t>(timeout_s * 1e9);
  const uint32_t cycles = static_cast<uint32_t>(std::clamp<int64_t>(param, 1, 0xffffffffLL));
  for (;;) {
    const uint32_t word = l_->seq.load(std::memory_order_acquire);
    if (reached(word, seq)) {
      r.outcome = kReleased;
      r.recv_ns = now_ns();
      break;
    }
    const int64_t now = now_ns();
    if (l_->abort.load(std::memory_order_acquire) != 0 || now > deadline) {
      r.outcome = now > deadline ? kExpired : kAborted;
      r.recv_ns = now;
      break;
    }
    RingWait step = how;
    if (how == RingWait::kAdaptive) step = now - start < param ? RingWait::kPause : RingWait::kFutex;
    switch (step) {
      case RingWait::kYield: sched_yield(); break;
      case RingWait::kSleep: {
        const timespec ts{static_cast<time_t>(param / 1000000000LL), static_cast<long>(param % 1000000000LL)};
        nanosleep(&ts, nullptr);
        break;
      }
      case RingWait::kFutex: {
        l_->sleepers.fetch_add(1, std::memory_order_seq_cst);
        if (!reached(l_->seq.load(std::memory_order_seq_cst), seq)) {
          shared_futex_wait(&l_->seq, word, std::min(deadline - now, kFutexSliceNs));
        }
        l_->sleepers.fetch_sub(1, std::memory_order_seq_cst);
        break;
      }
      case RingWait::kMwaitx: mwaitx_once(&l_->seq, word, cycles); break;
      case RingWait::kUmwait: umwait_once(&l_->seq, word, cycles, true); break;
      default: cpu_relax();
    }
  }
  r.woke_cpu = sched_getcpu();
  r.cpu_ns = thread_cpu_ns() - cpu0;
  r.wall_ns = r.recv_ns - start;
  r.off_cpu = static_cast<int32_t>(voluntary_switches() - switches0);
  if (r.outcome == kReleased) r.arrival_ns = l_->arrival_ns[seq % kRingSlots];
  return r;
}

void DispatchRing::ack(int rank, uint32_t seq) {
  if (rank < 0 || rank >= ranks_) throw std::invalid_argument("rank=" + std::to_string(rank) + " is out of range");
  l_->acks[rank].value.store(seq, std::memory_order_release);
}

int64_t DispatchRing::wait_acks(uint32_t seq, int self, double timeout_s) {
  const int64_t start = now_ns();
  const int64_t deadline = start + static_cast<int64_t>(timeout_s * 1e9);
  for (int r = 0; r < ranks_; ++r) {
    while (r != self && !reached(l_->acks[r].value.load(std::memory_order_acquire), seq)) {
      const int64_t now = now_ns();
      if (aborted()) throw WaitError("the dispatch ring was aborted");
      if (now > deadline) {
        throw WaitExpired("rank " + std::to_string(r) + " did not finish request " + std::to_string(seq) + " within " +
                          std::to_string(timeout_s) + " s");
      }
      if (now - start < 50000) {
        cpu_relax();
      } else {
        sched_yield();
      }
    }
  }
  return now_ns();
}

bool DispatchRing::sleep_until(int64_t t_ns) {
  for (;;) {
    if (aborted()) return false;
    const int64_t left = t_ns - now_ns();
    if (left <= kSpinTailNs) break;
    const int64_t nap = std::min(left - kSpinTailNs, kFutexSliceNs);
    const timespec ts{static_cast<time_t>(nap / 1000000000LL), static_cast<long>(nap % 1000000000LL)};
    nanosleep(&ts, nullptr);
  }
  while (now_ns() < t_ns) cpu_relax();
  return !aborted();
}

void DispatchRing::abort() {
  l_->abort.store(1, std::memory_order_seq_cst);
  shared_futex_wake_all(&l_->seq);
}

bool DispatchRing::aborted() const { return l_->abort.load(std::memory_order_acquire) != 0; }

}  // namespace wb
