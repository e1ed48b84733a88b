// SPDX-License-Identifier: Apache-2.0
// The binary layout of a profiler ring file (/dev/shm/waitbench-prof-<job>-<pid>.ring): one per process.
//
// Why a file of fixed-size entries: the process that writes it may die at any moment, and the reader
// (python/waitbench/profiler/layout.py, which mirrors this layout and checks `format` and `entry_bytes`)
// must still make sense of what is left, on this machine or after a copy. Entries are published with a
// per-entry sequence word (odd while written, 2 * (ticket + 1) once complete) and a checksum of the payload,
// so a torn entry (a writer that died mid-write, or one overwritten while read) is recognised, never trusted.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace wbprof {

constexpr uint64_t kRingMagic = 0x31464f5250425757ull;  // "WWBPROF1" little-endian
constexpr uint32_t kRingFormat = 1;
constexpr uint32_t kMaxComms = 64;  // communicators described in the header; more are counted, not named
constexpr uint32_t kMaxChannels = 64;
constexpr uint64_t kMinEntries = 16;
constexpr uint64_t kMaxEntries = 1ull << 24;
constexpr uint64_t kDefaultEntries = 1ull << 15;  // 32768 collectives, 5 MiB

// Entry flags.
constexpr uint8_t kFlagGraphCaptured = 1;  // launched from a CUDA graph: the enqueue time is the capture's, unknown
constexpr uint8_t kFlagIncomplete = 2;     // written at finalize before every channel stopped
constexpr uint8_t kFlagNoKernelCh = 4;     // the mask had no KernelCh bit: host times only

struct CommInfo {  // 64 bytes
  uint64_t comm_id;
  int32_t rank;
  int32_t n_ranks;
  int32_t n_nodes;
  int32_t abi_version;  // 5, 6 or 7: the table NCCL called init through
  char name[40];        // NUL-padded; empty when the application set no commName
};

struct RingHeader {  // 256 bytes, then kMaxComms CommInfo, then the entries
  uint64_t magic;
  uint32_t format;
  uint32_t entry_bytes;
  uint64_t capacity;           // entries in the ring
  std::atomic<uint64_t> head;  // tickets issued: entry t lives at index t % capacity
  uint32_t pid;
  uint32_t activation_mask;                 // the mask the plugin set
  uint64_t proc_start_ticks;                // the writer's start time (/proc/self/stat): tells a reused pid apart
  int64_t created_realtime_ns;              // CLOCK_REALTIME and CLOCK_MONOTONIC read together when the ring was made:
  int64_t created_monotonic_ns;             // the host times of entries are CLOCK_MONOTONIC
  std::atomic<uint64_t> dropped_pool_full;  // collectives not recorded: every slot of the comm was in flight
  std::atomic<uint64_t> orphan_channels;    // KernelCh events whose parent was not one of our Coll handles
  std::atomic<uint64_t> incomplete;         // entries written at finalize before all channels stopped
  std::atomic<uint32_t> n_comms;            // CommInfo entries filled
  std::atomic<uint32_t> comms_untracked;    // communicators beyond kMaxComms
  std::atomic<uint32_t> comms_live;         // inits minus finalizes
  uint32_t reserved0;
  char job[64];
  char host[64];  // gethostname(): ranks whose rings share it share CLOCK_MONOTONIC and, normally, GPU clocks
  uint8_t reserved[256 - 232];
};

struct RingEntry {            // 160 bytes: one collective on one rank
  std::atomic<uint64_t> seq;  // 2 * ticket + 1 while written, 2 * (ticket + 1) once published
  uint64_t checksum;          // ring_checksum() of the payload (the words after this one)
  uint64_t comm_id;
  uint64_t seq_number;          // NCCL's per-function counter of the communicator
  uint64_t count;               // elements as the Coll event gives them
  uint64_t user_tag;            // v7 userTag, 0 otherwise
  int64_t enqueue_ns;           // host CLOCK_MONOTONIC at the application's call (CollApi start); 0 unknown
  int64_t coll_start_ns;        // host CLOCK_MONOTONIC at the Coll start (the plan reaching the proxy)
  int64_t done_ns;              // host CLOCK_MONOTONIC when the last channel's stop reached the plugin
  uint64_t gpu_start_first_ns;  // min over channels of the KernelCh start %globaltimer; 0 none seen
  uint64_t gpu_start_last_ns;   // max over channels of the start
  uint64_t gpu_stop_first_ns;   // min over channels of the stop
  uint64_t gpu_stop_last_ns;    // max over channels of the stop
  int32_t rank;
  int32_t n_ranks;
  uint8_t channels;       // nChannels of the Coll event
  uint8_t channels_seen;  // channels whose start and stop both arrived
  uint8_t elem_bytes;     // size of one element of the datatype; 0 unknown
  uint8_t flags;
  uint8_t n_warps;
  uint8_t reserved[3];
  char func[16];  // "AllReduce", ... (NUL-padded, cut at 15)
  char algo[16];  // "RING", "TREE", ...
  char proto[8];  // "LL", "LL128", "SIMPLE"
};

static_assert(sizeof(RingHeader) == 256, "ring header");
static_assert(offsetof(RingHeader, job) == 104, "ring header job");
static_assert(sizeof(CommInfo) == 64, "comm info");
static_assert(sizeof(RingEntry) == 160, "ring entry");
static_assert(offsetof(RingEntry, rank) == 104 && offsetof(RingEntry, func) == 120, "ring entry");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared-memory atomics must be lock-free");

constexpr size_t kCommTableOffset = sizeof(RingHeader);
constexpr size_t kEntriesOffset = kCommTableOffset + kMaxComms * sizeof(CommInfo);

// The checksum of an entry's payload (its 8-byte words 2..19): sum of word_i * (2i + 1), modulo 2^64.
// Cheap (18 multiply-adds), and a torn entry mixes words of two writes, which changes it.
inline uint64_t ring_checksum(const RingEntry& e) {
  const auto* w = reinterpret_cast<const unsigned char*>(&e);
  uint64_t sum = 0;
  for (size_t i = 2; i < sizeof(RingEntry) / 8; ++i) {
    uint64_t word;
    __builtin_memcpy(&word, w + 8 * i, 8);
    sum += word * (2 * i + 1);
  }
  return sum;
}

}  // namespace wbprof
