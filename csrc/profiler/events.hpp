// SPDX-License-Identifier: Apache-2.0
// One communicator's profiler context and the event handles the plugin gives NCCL.
//
// Why fixed pools and a counted state word: a collective's Coll event stops (on the application's thread)
// before its kernel channels start and stop (on NCCL's proxy or profiler thread), so its handle must outlive
// its own stop; and nothing here may lock or allocate. A Coll claims a slot of the context's pool with one CAS,
// each of its channels takes a handle inside that slot, and a 64-bit state word counts the Coll stop (bit 32)
// and the channel stops (low bits): whichever thread makes it read "Coll stopped and every expected channel
// stopped" writes the collective's one ring entry and frees the slot. Every handle starts with a full-width
// kind word, so stop and record dispatch on it without trusting NCCL's event type.
#pragma once

#include <atomic>
#include <cstdint>

#include "nccl_abi.hpp"
#include "ring.hpp"

namespace wbprof {

constexpr uint32_t kCollSlots = 256;  // collectives in flight per communicator; more are dropped and counted
constexpr uint32_t kApiSlots = 1024;  // CollApi handles kept for their Coll to read (a rolling window)
constexpr uint32_t kClaimProbes = 32;
constexpr uint64_t kCollStopped = 1ull << 32;

enum HandleKind : uint64_t {
  kHandleCollApi = 0x6970614c4c4f4357ull,  // "WCOLLapi"
  kHandleColl = 0x6c6c6f434c4f4357ull,     // "WCOLColl"
  kHandleChannel = 0x6e6168434c4f4357ull,  // "WCOLChan"
};

struct ApiHandle {
  uint64_t kind = kHandleCollApi;
  int64_t t_ns = 0;
  uint64_t user_tag = 0;
  bool graph_captured = false;
};

struct CollSlot;

struct ChannelHandle {
  uint64_t kind = kHandleChannel;
  CollSlot* coll = nullptr;
  uint64_t start = 0;
  uint64_t stop = 0;
};

struct CommContext;

struct CollSlot {
  uint64_t kind = kHandleColl;
  CommContext* ctx = nullptr;
  std::atomic<uint32_t> busy{0};
  std::atomic<uint32_t> started{0};  // channel handles handed out
  std::atomic<uint64_t> state{0};    // kCollStopped once the Coll stopped, plus one per channel stopped
  uint32_t expected = 0;             // channels whose stop completes the collective
  RingEntry entry;                   // identity filled at the Coll start, times at completion
  ChannelHandle ch[kMaxChannels];
};

struct CommContext {
  Ring* ring = nullptr;
  uint64_t comm_id = 0;
  int rank = 0;
  int n_ranks = 0;
  int abi_version = 0;
  bool kernel_ch = false;  // the mask asks for KernelCh events, so a collective waits for its channels
  std::atomic<uint32_t> api_next{0};
  std::atomic<uint32_t> coll_next{0};
  ApiHandle api[kApiSlots];
  CollSlot colls[kCollSlots];
};

NcclResult start_event(CommContext* ctx, void** handle, EventDescr* descr);
NcclResult stop_event(void* handle);
NcclResult record_event_state(void* handle, int state, EventStateArgs* args);
// Writes every collective still in flight as an incomplete entry (at finalize, when NCCL sends no more events).
void flush_in_flight(CommContext* ctx);

// Bytes of one element of an NCCL datatype named as the Coll event names it ("ncclFloat32"); 0 unknown.
uint8_t datatype_bytes(const char* name);

}  // namespace wbprof
