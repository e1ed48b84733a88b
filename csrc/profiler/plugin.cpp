// SPDX-License-Identifier: Apache-2.0
// The plugin's entry points: the tables NCCL looks up (ncclProfiler_v7, _v6, _v5) and their init and finalize.
//
// Which NCCL loads which table (NCCL probes the newest it knows first): 2.28.x takes v5, 2.29.2 to 2.31.0 take
// v6, 2.31.2 takes v7. The three have the same function shapes; v7 only appends descriptor fields (userTag), so
// one implementation serves all three and each table's init records which one NCCL called. Settings come from
// the environment at the first communicator's init (`waitbench profiler env` prints them):
//   WAITBENCH_PROFILER_DIR      where the ring goes (default /dev/shm)
//   WAITBENCH_PROFILER_JOB      the job id in the ring's name (default "job")
//   WAITBENCH_PROFILER_ENTRIES  ring capacity in collectives, 16 .. 16777216 (default 32768)
//   WAITBENCH_PROFILER_MASK     NCCL event mask: Coll (0x2) with CollApi (0x200) and/or KernelCh (0x40);
//                               default 0x242 (all three). Without KernelCh only host times are recorded.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

#include "events.hpp"
#include "nccl_abi.hpp"
#include "ring.hpp"

namespace wbprof {
namespace {

constexpr uint32_t kAllowedMask = kEventColl | kEventCollApi | kEventKernelCh;
constexpr uint32_t kDefaultMask = kAllowedMask;

std::mutex g_lock;  // init and finalize only: never on an event's path
Ring* g_ring = nullptr;
int g_live = 0;

const char* env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// The unsigned value of env var `name` in [lo, hi], else `fallback` (a bad value is logged, never fatal).
uint64_t env_number(const char* name, uint64_t lo, uint64_t hi, uint64_t fallback, NcclLogger log) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  errno = 0;
  unsigned long long x = std::strtoull(v, &end, 0);
  if (errno == 0 && end && *end == '\0' && v[0] != '-' && x >= lo && x <= hi) return x;
  if (log) {
    log(kLogWarn, kLogSubsysInit, __FILE__, __LINE__,
        "waitbench profiler: %s=%.32s is invalid (expected %llu .. %llu); using %llu", name, v,
        static_cast<unsigned long long>(lo), static_cast<unsigned long long>(hi),
        static_cast<unsigned long long>(fallback));
  }
  return fallback;
}

uint32_t env_mask(NcclLogger log) {
  const uint64_t m = env_number("WAITBENCH_PROFILER_MASK", 0, 0xffffffffu, kDefaultMask, log);
  if ((m & ~static_cast<uint64_t>(kAllowedMask)) == 0 && (m & kEventColl)) return static_cast<uint32_t>(m);
  if (log) {
    log(kLogWarn, kLogSubsysInit, __FILE__, __LINE__,
        "waitbench profiler: WAITBENCH_PROFILER_MASK=0x%llx is invalid (Coll 0x2 with CollApi 0x200 and/or "
        "KernelCh 0x40); using 0x%x",
        static_cast<unsigned long long>(m), kDefaultMask);
  }
  return kDefaultMask;
}

NcclResult init_common(int abi, void** context, uint64_t comm_id, int* mask, const char* comm_name, int n_nodes,
                       int n_ranks, int rank, NcclLogger log) {
  *context = nullptr;
  std::lock_guard<std::mutex> guard(g_lock);
  const uint32_t want = env_mask(log);
  if (!g_ring) {
    RingConfig cfg;
    cfg.dir = env_or("WAITBENCH_PROFILER_DIR", "/dev/shm");
    cfg.job = env_or("WAITBENCH_PROFILER_JOB", "job");
    cfg.entries = env_number("WAITBENCH_PROFILER_ENTRIES", kMinEntries, kMaxEntries, kDefaultEntries, log);
    cfg.activation_mask = want;
    std::string error;
    g_ring = Ring::open(cfg, &error);
    if (!g_ring) {
      if (log) log(kLogWarn, kLogSubsysInit, __FILE__, __LINE__, "waitbench profiler: %s", error.c_str());
      return kNcclSystemError;
    }
  }
  auto* ctx = new (std::nothrow) CommContext();
  if (!ctx) return kNcclSystemError;
  ctx->ring = g_ring;
  ctx->comm_id = comm_id;
  ctx->rank = rank;
  ctx->n_ranks = n_ranks;
  ctx->abi_version = abi;
  ctx->kernel_ch = (want & kEventKernelCh) != 0;
  CommInfo info{};
  info.comm_id = comm_id;
  info.rank = rank;
  info.n_ranks = n_ranks;
  info.n_nodes = n_nodes;
  info.abi_version = abi;
  if (comm_name) std::strncpy(info.name, comm_name, sizeof(info.name) - 1);
  g_ring->add_comm(info);
  g_ring->header().comms_live.fetch_add(1, std::memory_order_relaxed);
  ++g_live;
  *mask = static_cast<int>(want);  // process-wide in NCCL: every init writes the same value
  if (log) {
    log(kLogInfo, kLogSubsysInit, __FILE__, __LINE__,
        "waitbench profiler (ncclProfiler_v%d): comm 0x%llx rank %d/%d, ring %s, event mask 0x%x", abi,
        static_cast<unsigned long long>(comm_id), rank, n_ranks, g_ring->path().c_str(), want);
  }
  *context = ctx;
  return kNcclSuccess;
}

template <int Abi>
NcclResult init(void** context, uint64_t comm_id, int* mask, const char* comm_name, int n_nodes, int n_ranks, int rank,
                NcclLogger log) {
  return init_common(Abi, context, comm_id, mask, comm_name, n_nodes, n_ranks, rank, log);
}

NcclResult start(void* context, void** handle, EventDescr* descr) {
  return start_event(static_cast<CommContext*>(context), handle, descr);
}

NcclResult finalize(void* context) {
  auto* ctx = static_cast<CommContext*>(context);
  if (!ctx) return kNcclSuccess;
  flush_in_flight(ctx);
  std::lock_guard<std::mutex> guard(g_lock);
  ctx->ring->header().comms_live.fetch_sub(1, std::memory_order_relaxed);
  delete ctx;
  if (--g_live == 0) {  // NCCL unloads the library after its last communicator: unmap before it goes
    delete g_ring;
    g_ring = nullptr;
  }
  return kNcclSuccess;
}

}  // namespace
}  // namespace wbprof

extern "C" {
// The data symbols NCCL's loader looks up with dlsym.
__attribute__((visibility("default"))) wbprof::ProfilerTable ncclProfiler_v7 = {
    "waitbench", wbprof::init<7>, wbprof::start, wbprof::stop_event, wbprof::record_event_state, wbprof::finalize};
__attribute__((visibility("default"))) wbprof::ProfilerTable ncclProfiler_v6 = {
    "waitbench", wbprof::init<6>, wbprof::start, wbprof::stop_event, wbprof::record_event_state, wbprof::finalize};
__attribute__((visibility("default"))) wbprof::ProfilerTable ncclProfiler_v5 = {
    "waitbench", wbprof::init<5>, wbprof::start, wbprof::stop_event, wbprof::record_event_state, wbprof::finalize};
}
