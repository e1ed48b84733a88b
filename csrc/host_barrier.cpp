// SPDX-License-Identifier: Apache-2.0
// The cross-process futex barrier (see host_barrier.hpp). All timing is taken here, in C++.
#include "host_barrier.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "clock.hpp"
#include "futex.hpp"
#include "proc_stat.hpp"

namespace wb {
namespace {

constexpr uint64_t kMagic = 0x31524142424d4257ULL;  // "WBMBBAR1"
constexpr uint32_t kVersion = 2;                    // 2: slots claimed at open, reset epoch, creator_closed
constexpr uint32_t kBrokenWriting = 0xffffffffu;    // a breaker is filling in why
constexpr int32_t kClaiming = -1;                   // a process is filling in its identity
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

uint64_t pid_namespace() {
  struct stat s{};
  return ::stat("/proc/self/ns/pid", &s) == 0 ? static_cast<uint64_t>(s.st_ino) : 0;
}

ProcessId self_id() {
  ProcessId id;
  id.pid = static_cast<int32_t>(::getpid());
  char state = 0;
  read_proc_stat(id.pid, &state, &id.start_ticks);
  id.pidns = pid_namespace();
  return id;
}

// False only when the process is known to be gone: no such pid, a zombie, or a new process with the
// same pid. A process of another pid namespace counts as alive (its pid means nothing here).
bool alive(const ProcessId& id, uint64_t my_pidns) {
  if (id.pid <= 0 || id.pidns != my_pidns) return true;
  char state = 0;
  uint64_t start = 0;
  if (read_proc_stat(id.pid, &state, &start)) {
    return state != 'Z' && state != 'X' && (id.start_ticks == 0 || start == id.start_ticks);
  }
  return !(::kill(id.pid, 0) == -1 && errno == ESRCH);
}

constexpr const char* kShmDir = "/dev/shm/";  // where shm_open keeps its names (glibc), and where we open them

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
  return kShmDir + name;
}

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// Closes an fd at scope exit unless released.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

}  // namespace

struct alignas(64) RankSlot {
  std::atomic<int32_t> pid;       // 0: free; kClaiming while a process fills in the rest; kLeft: closed
  std::atomic<uint32_t> arrived;  // the generation this rank last arrived for
  std::atomic<uint64_t> start_ticks;
  std::atomic<uint64_t> pidns;
  std::atomic<int32_t> last_pid;  // the holder's pid, kept after it closed (for the error message)
};

struct SharedBarrier::Layout {
  std::atomic<uint64_t> magic;  // written last by the creator (the name is linked only after it)
  uint32_t version;
  uint32_t parties;
  int32_t creator_pid;
  uint64_t creator_start_ticks;
  uint64_t creator_pidns;
  std::atomic<uint32_t> creator_closed;        // the creator closed its handle (or a reset() forgave its death)
  alignas(64) std::atomic<uint32_t> gen;       // the futex word; its change is the sense flip
  alignas(64) std::atomic<uint64_t> arrivals;  // reset epoch (high 32 bits) | arrived this round (low 32)
  std::atomic<uint32_t> sleepers;              // waiters inside FUTEX_WAIT: the releaser skips the syscall at 0
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

constexpr int32_t kLeft = -2;  // RankSlot::pid of a rank whose holder closed its handle
constexpr uint32_t kCount = 0xffffffffu;

// The reason a barrier is broken (0: it is not), waiting briefly for a breaker that is still writing it.
uint32_t settled_reason(const std::atomic<uint32_t>& broken) {
  uint32_t why = broken.load();
  for (int i = 0; why == kBrokenWriting && i < 10000; ++i) {
    cpu_relax();
    why = broken.load();
  }
  return why == kBrokenWriting ? static_cast<uint32_t>(kBarrierAborted) : why;  // the breaker died mid-write
}

// Maps `fd` after checking, from fstat and then the header, that it is a barrier this user may trust:
// ours, writable by nobody else, of our size, magic, version and a parties count in range.
void* map_checked(int fd, const std::string& path) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) fail(errno, "fstat(" + path + ")");
  if (st.st_uid != ::geteuid()) {
    fail(EACCES, path + " is owned by uid " + std::to_string(st.st_uid) + ", not by this process's uid " +
                     std::to_string(::geteuid()) + ": refusing to use it");
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%03o", static_cast<unsigned>(st.st_mode & 0777));
    fail(EACCES, path + " is writable by group or others (mode " + mode + "): refusing to use it");
  }
  const size_t bytes = sizeof(SharedBarrier::Layout);
  if (!S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) != bytes) {
    throw std::invalid_argument(path + " is not a waitbench barrier: size " + std::to_string(st.st_size) +
                                " bytes, expected " + std::to_string(bytes));
  }
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) fail(errno, "mmap(" + path + ")");
  const auto* l = static_cast<const SharedBarrier::Layout*>(base);
  std::string bad;
  if (l->magic.load() != kMagic) {
    bad = "bad magic";
  } else if (l->version != kVersion) {
    bad = "version " + std::to_string(l->version) + ", expected " + std::to_string(kVersion);
  } else if (l->parties < 1 || l->parties > static_cast<uint32_t>(kBarrierMaxParties)) {
    bad = "parties=" + std::to_string(l->parties) + ", expected [1, " + std::to_string(kBarrierMaxParties) + "]";
  }
  if (!bad.empty()) {
    ::munmap(base, bytes);
    throw std::invalid_argument(path + " is not a valid waitbench barrier: " + bad);
  }
  return base;
}

// A complete new segment under a unique temporary name next to `path`; returns its fd and name.
int build_segment(const std::string& path, int parties, std::string* tmp) {
  static std::atomic<uint32_t> serial{0};
  *tmp = path + ".new-" + std::to_string(::getpid()) + "-" + std::to_string(serial.fetch_add(1));
  FdGuard fd{::open(tmp->c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (fd.fd < 0) fail(errno, "creating " + *tmp);
  const size_t bytes = sizeof(SharedBarrier::Layout);
  // posix_fallocate, not ftruncate: the pages exist now, so a full /dev/shm is ENOSPC here, not SIGBUS later.
  const int err = ::posix_fallocate(fd.fd, 0, static_cast<off_t>(bytes));
  void* base = err == 0 ? ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.fd, 0) : MAP_FAILED;
  if (base == MAP_FAILED) {
    const int e = err ? err : errno;
    ::unlink(tmp->c_str());
    if (e == ENOSPC) {
      fail(e, "no space left in " + std::string(kShmDir) + " for a barrier of " + std::to_string(bytes) + " bytes (" +
                  path + "): free some, or enlarge the tmpfs");
    }
    fail(e, "allocating " + std::to_string(bytes) + " bytes for " + path);
  }
  auto* l = new (base) SharedBarrier::Layout();  // the segment is zero-filled; this starts the atomics' lifetimes
  const ProcessId me = self_id();
  l->version = kVersion;
  l->parties = static_cast<uint32_t>(parties);
  l->creator_pid = me.pid;
  l->creator_start_ticks = me.start_ticks;
  l->creator_pidns = me.pidns;
  l->magic.store(kMagic);
  ::munmap(base, bytes);
  return fd.release();
}

// Whether the segment `path` names may be taken over (its creator is dead), decided under an flock of
// that segment so two creators never both remove it; removes it if so. EEXIST when it may not.
void remove_if_stale(const std::string& path) {
  FdGuard fd{::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW)};
  if (fd.fd < 0) {
    if (errno == ENOENT) return;  // gone meanwhile: link again
    fail(errno, "opening " + path);
  }
  if (::flock(fd.fd, LOCK_EX) != 0) fail(errno, "flock(" + path + ")");
  struct stat mine{}, named{};
  if (::fstat(fd.fd, &mine) != 0 || ::stat(path.c_str(), &named) != 0 || mine.st_ino != named.st_ino) return;
  void* base = nullptr;
  try {
    base = map_checked(fd.fd, path);
  } catch (const std::exception& e) {
    fail(EEXIST, path + " exists and is not a barrier this process may take over (" + e.what() + ")");
  }
  const auto* l = static_cast<const SharedBarrier::Layout*>(base);
  const ProcessId creator{l->creator_pid, l->creator_start_ticks, l->creator_pidns};
  ::munmap(base, sizeof(SharedBarrier::Layout));
  if (alive(creator, pid_namespace())) {
    fail(EEXIST, path + " was created by pid " + std::to_string(creator.pid) + ", which is alive");
  }
  ::unlink(path.c_str());  // under the lock: a second taker finds another inode (or none) and starts over
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
  std::string tmp;
  FdGuard fd{build_segment(path, parties, &tmp)};
  struct TmpGuard {
    const std::string& tmp;
    ~TmpGuard() { ::unlink(tmp.c_str()); }
  } tmp_guard{tmp};
  for (int attempt = 0;; ++attempt) {
    if (::link(tmp.c_str(), path.c_str()) == 0) break;  // atomic: fails if the name exists
    if (errno != EEXIST || attempt >= 100) fail(errno, "linking " + path);
    remove_if_stale(path);
  }
  const size_t bytes = sizeof(Layout);
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.fd, 0);
  if (base == MAP_FAILED) {
    const int err = errno;
    ::unlink(path.c_str());
    fail(err, "mmap(" + path + ")");
  }
  std::unique_ptr<SharedBarrier> b(new SharedBarrier(fd.release(), base, bytes));
  b->creator_ = true;
  return b;
}

std::unique_ptr<SharedBarrier> SharedBarrier::open(const std::string& name) {
  const std::string path = shm_path(name);
  FdGuard fd{::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW)};
  if (fd.fd < 0) fail(errno, "opening " + path);
  void* base = map_checked(fd.fd, path);
  return std::unique_ptr<SharedBarrier>(new SharedBarrier(fd.release(), base, sizeof(Layout)));
}

bool SharedBarrier::unlink(const std::string& name) {
  const std::string path = shm_path(name);
  std::unique_ptr<SharedBarrier> b;
  try {
    b = open(name);
  } catch (const std::exception&) {
    return false;
  }
  const Layout* l = b->layout();
  const ProcessId me = self_id();
  if (l->creator_pid != me.pid || l->creator_start_ticks != me.start_ticks || l->creator_pidns != me.pidns) {
    return false;  // another process's segment (a fork()ed child's parent's, or a newer one of this name)
  }
  return ::unlink(path.c_str()) == 0;
}

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
  Layout* l = layout();
  const auto me = static_cast<int32_t>(::getpid());
  if (rank_ >= 0) {
    int32_t held = me;
    l->slots[rank_].last_pid.store(me);
    l->slots[rank_].pid.compare_exchange_strong(held, kLeft);  // waiters see it left at their next check
  }
  if (creator_ && l->creator_pid == me) l->creator_closed.store(1);
  ::munmap(base_, bytes_);
  ::close(fd_);
}

int SharedBarrier::parties() const { return static_cast<int>(layout()->parties); }
int SharedBarrier::n_waiting() const { return static_cast<int>(layout()->arrivals.load() & kCount); }

int SharedBarrier::claim(int rank) {
  Layout* l = layout();
  const int n = parties();
  if (rank < -1 || rank >= n) {
    throw std::invalid_argument("rank=" + std::to_string(rank) + " is invalid: expected [0, " + std::to_string(n - 1) +
                                "] (parties=" + std::to_string(n) + "), or None for the first free one");
  }
  if (rank_ >= 0) throw std::logic_error("this handle already holds rank " + std::to_string(rank_));
  const ProcessId me = self_id();
  const int first = rank < 0 ? 0 : rank;
  const int last = rank < 0 ? n - 1 : rank;
  for (int r = first; r <= last; ++r) {
    RankSlot& s = l->slots[r];
    int32_t holder = 0;
    if (!s.pid.compare_exchange_strong(holder, kClaiming)) continue;  // only a free slot is taken
    s.start_ticks.store(me.start_ticks);
    s.pidns.store(me.pidns);
    s.arrived.store(l->gen.load());
    s.last_pid.store(me.pid);
    s.pid.store(me.pid);
    rank_ = r;
    return r;
  }
  auto holder = [&](int r) {
    const int32_t pid = l->slots[r].pid.load();
    const std::string who = "pid " + std::to_string(pid == kLeft ? l->slots[r].last_pid.load() : pid);
    if (pid == kLeft) return who + " held it and closed its handle (reset() frees it)";
    const RankSlot& s = l->slots[r];
    const ProcessId id{pid, s.start_ticks.load(), s.pidns.load()};
    return who + (alive(id, me.pidns) ? " holds it" : " held it and died (reset() frees it)");
  };
  if (rank >= 0) throw std::invalid_argument("rank=" + std::to_string(rank) + " is invalid: " + holder(rank));
  throw std::invalid_argument("parties=" + std::to_string(n) + " are all held: a barrier of " + std::to_string(n) +
                              " parties takes " + std::to_string(n) + " handles (rank 0: " + holder(0) + ")");
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
  shared_futex_wake_all(&l->gen);
  return true;
}

void SharedBarrier::abort() { break_barrier(kBarrierAborted, layout()->gen.load() + 1, -1, 0); }

void SharedBarrier::reset() {
  Layout* l = layout();
  // A new epoch with nobody arrived: waiters of the old one see it and return kBarrierReset.
  uint64_t s = l->arrivals.load();
  while (!l->arrivals.compare_exchange_weak(s, ((s >> 32) + 1) << 32)) {
  }
  for (int r = 0; r < parties(); ++r) {
    RankSlot& slot = l->slots[r];
    int32_t pid = slot.pid.load();
    const ProcessId id{pid, slot.start_ticks.load(), slot.pidns.load()};
    if (pid == kLeft || (pid > 0 && !alive(id, pidns_))) slot.pid.compare_exchange_strong(pid, 0);
  }
  const ProcessId creator{l->creator_pid, l->creator_start_ticks, l->creator_pidns};
  if (!alive(creator, pidns_)) l->creator_closed.store(1);
  uint32_t why = settled_reason(l->broken);
  if (why != 0) l->broken.compare_exchange_strong(why, 0);
  shared_futex_wake_all(&l->gen);
}

SharedBarrier::Fault SharedBarrier::find_fault() const {
  const Layout* l = layout();
  for (int r = 0; r < parties(); ++r) {
    if (r == rank_) continue;
    const RankSlot& s = l->slots[r];
    const int32_t pid = s.pid.load();
    if (pid == kLeft) return {kBarrierRankLeft, r, s.last_pid.load()};
    const ProcessId id{pid, s.start_ticks.load(), s.pidns.load()};
    if (pid > 0 && !alive(id, pidns_)) return {kBarrierRankDied, r, pid};
  }
  const ProcessId creator{l->creator_pid, l->creator_start_ticks, l->creator_pidns};
  if (!l->creator_closed.load() && !alive(creator, pidns_)) return {kBarrierRankDied, -1, creator.pid};
  return {};
}

BarrierBrokenInfo SharedBarrier::broken() const {
  const Layout* l = layout();
  BarrierBrokenInfo info;
  for (int r = 0; r < parties(); ++r) {
    const int32_t pid = l->slots[r].pid.load();
    info.pids.push_back(pid == kLeft ? l->slots[r].last_pid.load() : std::max(pid, 0));
  }
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
  // Arrive in the current reset epoch; the last arrival empties the count in the same step.
  const uint64_t n = static_cast<uint64_t>(parties());
  uint64_t s = l->arrivals.load();
  uint64_t next = 0;
  do {
    next = (s & kCount) + 1 == n ? s & ~static_cast<uint64_t>(kCount) : s + 1;
  } while (!l->arrivals.compare_exchange_weak(s, next));
  const uint64_t epoch = s >> 32;
  r.index = static_cast<int>(s & kCount);
  if (static_cast<uint64_t>(r.index) + 1 == n) {  // the last arrival: flip the sense, wake the sleepers
    r.release_ns = r.wake_ns = now_ns();
    l->release_ns.store(r.release_ns);
    l->gen.fetch_add(1);
    if (l->sleepers.load() > 0) shared_futex_wake_all(&l->gen);
    return finish(kBarrierReleased);
  }

  auto released = [&] { return static_cast<int32_t>(l->gen.load() - target) >= 0; };
  auto was_reset = [&] { return (l->arrivals.load() >> 32) != epoch; };
  const int64_t deadline = t0 + timeout_ns;
  const int64_t spin_until = t0 + spin_ns;
  int64_t interval = kBarrierLivenessFirstNs;
  int64_t next_check = t0 + interval;
  while (!released()) {
    if (was_reset()) return finish(kBarrierReset);
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
      const Fault f = find_fault();
      if (f.reason) {
        break_barrier(f.reason, target, f.rank, f.pid);
        if (released()) break;
        return finish(static_cast<int>(settled_reason(l->broken)));
      }
    }
    l->sleepers.fetch_add(1);
    if (!released() && l->broken.load() == 0 && !was_reset()) {
      if (shared_futex_wait(&l->gen, g0, std::min(deadline, next_check) - now) == EINTR) next_check = now;
    }
    l->sleepers.fetch_sub(1);
  }
  r.wake_ns = now_ns();
  r.release_ns = l->release_ns.load();
  return finish(kBarrierReleased);
}

}  // namespace wb
