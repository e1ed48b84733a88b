// SPDX-License-Identifier: Apache-2.0
// The cross-process futex barrier (see host_barrier.hpp). All timing is taken here, in C++.
#include "host_barrier.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>
#include <system_error>

#include "clock.hpp"

namespace wb {
namespace {

constexpr uint64_t kMagic = 0x31524142424d4257ULL;  // "WBMBBAR1"
constexpr uint32_t kVersion = 1;
constexpr uint32_t kBrokenWriting = 0xffffffffu;  // a breaker is filling in why
constexpr int32_t kClaiming = -1;                 // a process is filling in its identity
constexpr size_t kNameMax = 200;
constexpr int kMaskWords = kBarrierMaxParties / 64;

static_assert(std::atomic<uint32_t>::is_always_lock_free && std::atomic<int64_t>::is_always_lock_free,
              "shared-memory atomics must be lock-free (address-free) to work across processes");

// Which process holds a rank: the pid alone is not enough (pids are reused, and a killed child
// stays a zombie until reaped), so its start time and pid namespace are kept too.
struct ProcessId {
  int32_t pid = 0;
  uint64_t start_ticks = 0;  // /proc/<pid>/stat field 22
  uint64_t pidns = 0;        // inode of /proc/self/ns/pid: pids of other namespaces cannot be checked
};

// state (field 3) and start time (field 22) of /proc/<pid>/stat; false if it cannot be read.
bool read_stat(int32_t pid, char* state, uint64_t* start_ticks) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "re");
  if (!f) return false;
  char buf[1024];
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // comm may hold spaces and parentheses
  if (!p) return false;
  unsigned long long start = 0;
  char st = 0;
  // after ") ": state, then fields 4..21 skipped, then starttime (22)
  if (std::sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &st,
                  &start) != 2) {
    return false;
  }
  *state = st;
  *start_ticks = start;
  return true;
}

uint64_t pid_namespace() {
  struct stat s{};
  return ::stat("/proc/self/ns/pid", &s) == 0 ? static_cast<uint64_t>(s.st_ino) : 0;
}

ProcessId self_id() {
  ProcessId id;
  id.pid = static_cast<int32_t>(::getpid());
  char state = 0;
  read_stat(id.pid, &state, &id.start_ticks);
  id.pidns = pid_namespace();
  return id;
}

// False only when the process is known to be gone: no such pid, a zombie, or a new process with the
// same pid. A process of another pid namespace counts as alive (its pid means nothing here).
bool alive(const ProcessId& id, uint64_t my_pidns) {
  if (id.pid <= 0 || id.pidns != my_pidns) return true;
  char state = 0;
  uint64_t start = 0;
  if (read_stat(id.pid, &state, &start)) {
    return state != 'Z' && state != 'X' && (id.start_ticks == 0 || start == id.start_ticks);
  }
  return !(::kill(id.pid, 0) == -1 && errno == ESRCH);
}

long futex(std::atomic<uint32_t>* word, int op, uint32_t val, const timespec* ts) {
  // FUTEX_WAIT/FUTEX_WAKE, not the _PRIVATE forms: the word is shared between processes.
  return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, val, ts, nullptr, 0);
}

int futex_wait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns) {
  timeout_ns = std::max<int64_t>(timeout_ns, 0);
  const timespec ts{static_cast<time_t>(timeout_ns / 1000000000LL), static_cast<long>(timeout_ns % 1000000000LL)};
  return futex(word, FUTEX_WAIT, expected, &ts) == 0 ? 0 : errno;
}

void futex_wake_all(std::atomic<uint32_t>* word) { futex(word, FUTEX_WAKE, INT_MAX, nullptr); }

std::string shm_path(const std::string& name) {
  if (name.empty() || name.size() > kNameMax) {
    throw std::invalid_argument("name='" + name + "' is invalid: expected 1 to " + std::to_string(kNameMax) +
                                " characters");
  }
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      throw std::invalid_argument("name='" + name + "' is invalid: expected letters, digits, '.', '_' or '-'");
    }
  }
  return "/" + name;
}

}  // namespace

struct alignas(64) RankSlot {
  std::atomic<int32_t> pid;       // 0: free; kClaiming while a process fills in the rest
  std::atomic<uint32_t> arrived;  // the generation this rank last arrived for
  std::atomic<uint64_t> start_ticks;
  std::atomic<uint64_t> pidns;
};

struct SharedBarrier::Layout {
  std::atomic<uint64_t> magic;  // written last by the creator: an opener waits for it
  uint32_t version;
  uint32_t parties;
  int32_t creator_pid;
  uint64_t creator_start_ticks;
  uint64_t creator_pidns;
  alignas(64) std::atomic<uint32_t> gen;  // the futex word; its change is the sense flip
  alignas(64) std::atomic<uint32_t> count;
  std::atomic<uint32_t> sleepers;  // waiters inside FUTEX_WAIT: the releaser skips the syscall at 0
  std::atomic<int64_t> release_ns;
  alignas(64) std::atomic<uint32_t> broken;  // 0, kBrokenWriting, or a BarrierStatus
  std::atomic<int32_t> broken_by;
  std::atomic<uint32_t> broken_gen;
  std::atomic<int32_t> dead_rank;
  std::atomic<int32_t> dead_pid;
  std::atomic<uint64_t> missing[kMaskWords];
  RankSlot slots[kBarrierMaxParties];
};

namespace {

// The reason a barrier is broken (0: it is not), waiting briefly for a breaker that is still writing it.
uint32_t settled_reason(const std::atomic<uint32_t>& broken) {
  uint32_t why = broken.load();
  for (int i = 0; why == kBrokenWriting && i < 10000; ++i) {
    cpu_relax();
    why = broken.load();
  }
  return why == kBrokenWriting ? static_cast<uint32_t>(kBarrierAborted) : why;  // the breaker died mid-write
}

}  // namespace

SharedBarrier::SharedBarrier(int fd, void* base, size_t bytes)
    : fd_(fd),
      base_(base),
      bytes_(bytes),
      pidns_(pid_namespace()) {}

std::unique_ptr<SharedBarrier> SharedBarrier::create(const std::string& name, int parties) {
  if (parties < 1 || parties > kBarrierMaxParties) {
    throw std::invalid_argument("parties=" + std::to_string(parties) + " is invalid: expected [1, " +
                                std::to_string(kBarrierMaxParties) + "]");
  }
  const std::string path = shm_path(name);
  const int fd = ::shm_open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "shm_open(" + path + ")");
  const size_t bytes = sizeof(Layout);
  void* base = MAP_FAILED;
  if (::ftruncate(fd, static_cast<off_t>(bytes)) == 0) {
    base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  }
  if (base == MAP_FAILED) {
    const int err = errno;
    ::close(fd);
    ::shm_unlink(path.c_str());
    throw std::system_error(err, std::generic_category(), "creating barrier " + path);
  }
  Layout* l = new (base) Layout();  // the segment is zero-filled; this only starts the atomics' lifetimes
  const ProcessId me = self_id();
  l->version = kVersion;
  l->parties = static_cast<uint32_t>(parties);
  l->creator_pid = me.pid;
  l->creator_start_ticks = me.start_ticks;
  l->creator_pidns = me.pidns;
  l->magic.store(kMagic);
  return std::unique_ptr<SharedBarrier>(new SharedBarrier(fd, base, bytes));
}

std::unique_ptr<SharedBarrier> SharedBarrier::open(const std::string& name) {
  const std::string path = shm_path(name);
  const int fd = ::shm_open(path.c_str(), O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "shm_open(" + path + ")");
  const size_t bytes = sizeof(Layout);
  // The creator may still be sizing and filling the segment: give it a second.
  const int64_t limit = now_ns() + 1000000000LL;
  struct stat st{};
  while (::fstat(fd, &st) == 0 && static_cast<size_t>(st.st_size) < bytes && now_ns() < limit) ::usleep(1000);
  void* base = static_cast<size_t>(st.st_size) >= bytes
                   ? ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                   : MAP_FAILED;
  if (base == MAP_FAILED) {
    ::close(fd);
    throw std::runtime_error(path + " is not a waitbench barrier (size " + std::to_string(st.st_size) + " bytes)");
  }
  std::unique_ptr<SharedBarrier> b(new SharedBarrier(fd, base, bytes));
  while (b->layout()->magic.load() != kMagic && now_ns() < limit) ::usleep(1000);
  if (b->layout()->magic.load() != kMagic || b->layout()->version != kVersion) {
    throw std::runtime_error(path + " is not a waitbench barrier of version " + std::to_string(kVersion));
  }
  return b;
}

bool SharedBarrier::unlink(const std::string& name) { return ::shm_unlink(shm_path(name).c_str()) == 0; }

std::pair<int32_t, bool> SharedBarrier::creator(const std::string& name) {
  std::unique_ptr<SharedBarrier> b;
  try {
    b = open(name);
  } catch (const std::exception&) {
    return {0, false};
  }
  const Layout* l = b->layout();
  const ProcessId id{l->creator_pid, l->creator_start_ticks, l->creator_pidns};
  return {id.pid, alive(id, pid_namespace())};
}

SharedBarrier::~SharedBarrier() {
  if (rank_ >= 0) {
    int32_t me = static_cast<int32_t>(::getpid());
    layout()->slots[rank_].pid.compare_exchange_strong(me, 0);
  }
  ::munmap(base_, bytes_);
  ::close(fd_);
}

int SharedBarrier::parties() const { return static_cast<int>(layout()->parties); }
int SharedBarrier::n_waiting() const { return static_cast<int>(layout()->count.load()); }

int SharedBarrier::claim(int rank) {
  Layout* l = layout();
  const int n = parties();
  if (rank < -1 || rank >= n) {
    throw std::invalid_argument("rank=" + std::to_string(rank) + " is invalid: expected [0, " + std::to_string(n - 1) +
                                "] (parties=" + std::to_string(n) + "), or None for the first free one");
  }
  const ProcessId me = self_id();
  const int first = rank < 0 ? 0 : rank;
  const int last = rank < 0 ? n - 1 : rank;
  for (int r = first; r <= last; ++r) {
    RankSlot& s = l->slots[r];
    int32_t holder = s.pid.load();
    const ProcessId held{holder, s.start_ticks.load(), s.pidns.load()};
    const bool free = holder == 0 || (holder > 0 && !alive(held, me.pidns));
    if (!free || !s.pid.compare_exchange_strong(holder, kClaiming)) continue;
    s.start_ticks.store(me.start_ticks);
    s.pidns.store(me.pidns);
    s.arrived.store(l->gen.load());
    s.pid.store(me.pid);
    rank_ = r;
    return r;
  }
  if (rank >= 0) {
    throw std::invalid_argument("rank=" + std::to_string(rank) + " is invalid: pid " +
                                std::to_string(l->slots[rank].pid.load()) + " holds it");
  }
  throw std::invalid_argument("parties=" + std::to_string(n) + " are all held by live processes: a barrier of " +
                              std::to_string(n) + " parties takes " + std::to_string(n) + " handles");
}

bool SharedBarrier::break_barrier(int reason, uint32_t generation, int dead_rank, int32_t dead_pid) {
  Layout* l = layout();
  uint32_t expected = 0;
  if (!l->broken.compare_exchange_strong(expected, kBrokenWriting)) return false;
  l->broken_by.store(rank_);
  l->broken_gen.store(generation);
  l->dead_rank.store(dead_rank);
  l->dead_pid.store(dead_pid);
  uint64_t mask[kMaskWords] = {};
  for (int r = 0; r < parties(); ++r) {
    if (l->slots[r].arrived.load() != generation) mask[r / 64] |= 1ULL << (r % 64);
  }
  for (int w = 0; w < kMaskWords; ++w) l->missing[w].store(mask[w]);
  l->broken.store(static_cast<uint32_t>(reason));
  futex_wake_all(&l->gen);
  return true;
}

void SharedBarrier::abort() { break_barrier(kBarrierAborted, layout()->gen.load() + 1, -1, 0); }

int SharedBarrier::find_dead_party() const {
  const Layout* l = layout();
  for (int r = 0; r < parties(); ++r) {
    if (r == rank_) continue;
    const RankSlot& s = l->slots[r];
    const ProcessId id{s.pid.load(), s.start_ticks.load(), s.pidns.load()};
    if (id.pid > 0 && !alive(id, pidns_)) return r;
  }
  return -1;
}

BarrierBrokenInfo SharedBarrier::broken() const {
  const Layout* l = layout();
  BarrierBrokenInfo info;
  for (int r = 0; r < parties(); ++r) info.pids.push_back(std::max(l->slots[r].pid.load(), 0));
  info.reason = static_cast<int>(settled_reason(l->broken));
  if (info.reason == kBarrierReleased) return info;
  info.by_rank = l->broken_by.load();
  info.generation = l->broken_gen.load();
  info.dead_rank = l->dead_rank.load();
  info.dead_pid = l->dead_pid.load();
  for (int r = 0; r < parties(); ++r) {
    if (l->missing[r / 64].load() & (1ULL << (r % 64))) info.missing.push_back(r);
  }
  return info;
}

BarrierWaitResult SharedBarrier::wait(int64_t timeout_ns, int64_t spin_ns, const std::function<bool()>& interrupted) {
  if (in_wait_.exchange(true)) {
    throw std::logic_error(
        "this HostBarrier handle is already waiting in another thread: a handle is one party; "
        "open one handle per thread that waits");
  }
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag.store(false); }
  } done{in_wait_};
  Layout* l = layout();
  if (rank_ >= 0 && l->slots[rank_].pid.load() != static_cast<int32_t>(::getpid())) rank_ = -1;  // forked copy
  if (rank_ < 0) claim(-1);

  BarrierWaitResult r;
  const int64_t t0 = now_ns();
  const int64_t c0 = thread_cpu_ns();
  auto finish = [&](int status) {
    r.status = status;
    r.wall_ns = now_ns() - t0;
    r.cpu_ns = thread_cpu_ns() - c0;
    return r;
  };
  const uint32_t g0 = l->gen.load();
  const uint32_t target = g0 + 1;
  r.generation = target;
  if (const uint32_t why = settled_reason(l->broken)) return finish(static_cast<int>(why));
  l->slots[rank_].arrived.store(target);
  r.index = static_cast<int>(l->count.fetch_add(1));
  if (r.index + 1 == parties()) {  // the last arrival: reset, flip the sense, wake the sleepers
    l->count.store(0);
    r.release_ns = r.wake_ns = now_ns();
    l->release_ns.store(r.release_ns);
    l->gen.fetch_add(1);
    if (l->sleepers.load() > 0) futex_wake_all(&l->gen);
    return finish(kBarrierReleased);
  }

  auto released = [&] { return static_cast<int32_t>(l->gen.load() - target) >= 0; };
  const int64_t deadline = t0 + timeout_ns;
  const int64_t spin_until = t0 + spin_ns;
  int64_t interval = kBarrierLivenessFirstNs;
  int64_t next_check = t0 + interval;
  while (!released()) {
    if (const uint32_t why = settled_reason(l->broken)) return finish(static_cast<int>(why));
    const int64_t now = now_ns();
    if (now >= deadline) {
      break_barrier(kBarrierTimeout, target, -1, 0);
      if (released()) break;  // the last party came in the meantime
      return finish(static_cast<int>(settled_reason(l->broken)));
    }
    if (now < spin_until) {
      cpu_relax();
      continue;
    }
    if (now >= next_check) {
      next_check = now + interval;
      interval = std::min(2 * interval, kBarrierLivenessMaxNs);
      if (interrupted && interrupted()) {
        break_barrier(kBarrierInterrupted, target, -1, 0);
        return finish(static_cast<int>(settled_reason(l->broken)));
      }
      const int dead = find_dead_party();
      if (dead >= 0) {
        break_barrier(kBarrierRankDied, target, dead, l->slots[dead].pid.load());
        if (released()) break;
        return finish(static_cast<int>(settled_reason(l->broken)));
      }
    }
    l->sleepers.fetch_add(1);
    if (!released() && l->broken.load() == 0) {
      if (futex_wait(&l->gen, g0, std::min(deadline, next_check) - now) == EINTR) next_check = now;
    }
    l->sleepers.fetch_sub(1);
  }
  r.wake_ns = now_ns();
  r.release_ns = l->release_ns.load();
  return finish(kBarrierReleased);
}

}  // namespace wb
