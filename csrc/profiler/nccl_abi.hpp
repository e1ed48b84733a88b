// SPDX-License-Identifier: Apache-2.0
// NCCL's profiler plugin interface, as far as this plugin uses it: our own declarations, written from the
// interface NCCL documents (plugins/profiler/README.md, the profiler_vN headers; docs/PROFILER.md cites them).
//
// Why only a prefix of each descriptor: from v5 on, NCCL only appends fields inside the union members (v5 ->
// v6 -> v7), so one view of the fields we read serves the v5, v6 and v7 tables; the v7-only fields (userTag)
// are read only from a v7 call. The offsets are asserted below: they are what NCCL's layout gives on LP64.
// No CUDA or NCCL header is needed: the plugin builds with a plain C++ compiler.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wbprof {

// ncclResult_t is an int enum; ncclSuccess is 0. A failing init disables the plugin for that communicator.
using NcclResult = int;
constexpr NcclResult kNcclSuccess = 0;
constexpr NcclResult kNcclSystemError = 2;

// ncclDebugLogger_t: (level, subsystem flags, file, line, printf format, ...). Levels: WARN 2, INFO 3.
using NcclLogger = void (*)(int level, unsigned long flags, const char* file, int line, const char* fmt, ...);
constexpr int kLogWarn = 2;
constexpr int kLogInfo = 3;
constexpr unsigned long kLogSubsysInit = 1;  // NCCL_INIT

// Event types: the descriptor's `type` and the bits of the activation mask are the same values.
enum EventType : uint64_t {
  kEventGroup = 1u << 0,
  kEventColl = 1u << 1,
  kEventP2p = 1u << 2,
  kEventProxyOp = 1u << 3,
  kEventProxyStep = 1u << 4,
  kEventProxyCtrl = 1u << 5,
  kEventKernelCh = 1u << 6,
  kEventNetPlugin = 1u << 7,
  kEventGroupApi = 1u << 8,
  kEventCollApi = 1u << 9,
  kEventP2pApi = 1u << 10,
  kEventKernelLaunch = 1u << 11,
};

// Event states passed to recordEventState (ncclProfilerEventState_vN_t): the one this plugin acts on.
constexpr int kStateKernelChStop = 22;

// The descriptor header and the union members this plugin reads (ncclProfilerEventDescr_v5/v6/v7_t).
struct EventDescr {
  uint64_t type;
  void* parent_obj;
  int rank;
  union {
    struct {
      const char* func;
      size_t count;
      const char* datatype;
      int root;
      void* stream;
      bool graph_captured;
      uint64_t user_tag;  // v7 only
    } coll_api;
    struct {
      uint64_t seq_number;
      const char* func;
      const void* send_buff;
      void* recv_buff;
      size_t count;
      int root;
      const char* datatype;
      uint8_t n_channels;
      uint8_t n_warps;
      const char* algo;
      const char* proto;
      void* parent_group;
      const char* kernel_variant;  // v7 only
      bool is_sym_coll;            // v7 only
      uint64_t user_tag;           // v7 only
    } coll;
    struct {
      uint8_t channel_id;
      uint64_t p_timer;  // GPU %globaltimer at the channel's work start, ns
    } kernel_ch;
  };
};

// ncclProfilerEventStateArgs_vN_t (v4..v7): an 8-byte union; kernelCh.pTimer is the channel's stop time.
union EventStateArgs {
  size_t trans_size;
  int appended_proxy_ops;
  void* net_data;
  uint64_t kernel_ch_p_timer;
};

// The function table NCCL looks up as the data symbol ncclProfiler_v5 / _v6 / _v7 (same shape in all three).
struct ProfilerTable {
  const char* name;
  NcclResult (*init)(void** context, uint64_t comm_id, int* activation_mask, const char* comm_name, int n_nodes,
                     int n_ranks, int rank, NcclLogger logfn);
  NcclResult (*start_event)(void* context, void** event_handle, EventDescr* descr);
  NcclResult (*stop_event)(void* event_handle);
  NcclResult (*record_event_state)(void* event_handle, int state, EventStateArgs* args);
  NcclResult (*finalize)(void* context);
  // Zero, past the six members NCCL reads: a draft v7 (NVIDIA/nccl PR #2285) appends a seventh function
  // pointer; an NCCL built from it finds NULL here instead of the next symbol's bytes.
  void* zero_tail = nullptr;
};

// The layout NCCL's headers give on LP64 (the union starts at 24).
static_assert(offsetof(EventDescr, coll_api) == 24, "descriptor union offset");
static_assert(offsetof(EventDescr, coll.seq_number) == 24 && offsetof(EventDescr, coll.func) == 32, "coll");
static_assert(offsetof(EventDescr, coll.count) == 56 && offsetof(EventDescr, coll.datatype) == 72, "coll");
static_assert(offsetof(EventDescr, coll.n_channels) == 80 && offsetof(EventDescr, coll.algo) == 88, "coll");
static_assert(offsetof(EventDescr, coll.proto) == 96 && offsetof(EventDescr, coll.user_tag) == 128, "coll v7");
static_assert(offsetof(EventDescr, coll_api.graph_captured) == 64 && offsetof(EventDescr, coll_api.user_tag) == 72,
              "collApi");
static_assert(offsetof(EventDescr, kernel_ch.p_timer) == 32, "kernelCh");
static_assert(sizeof(EventStateArgs) == 8, "state args");

}  // namespace wbprof
