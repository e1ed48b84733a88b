// SPDX-License-Identifier: Apache-2.0
// The plugin's event handling, the same for the v5, v6 and v7 tables (see events.hpp).
#include "events.hpp"

#include <cstring>

namespace wbprof {
namespace {

void copy_name(char* dst, size_t size, const char* src) {
  std::memset(dst, 0, size);
  if (src) std::strncpy(dst, src, size - 1);
}

template <typename T, size_t N>
bool points_into(const void* p, const T (&array)[N]) {
  auto* first = reinterpret_cast<const char*>(&array[0]);
  auto* q = static_cast<const char*>(p);
  return q >= first && q < first + sizeof(array) && (q - first) % sizeof(T) == 0;
}

CollSlot* claim_slot(CommContext* ctx) {
  for (uint32_t k = 0; k < kClaimProbes; ++k) {
    CollSlot& slot = ctx->colls[ctx->coll_next.fetch_add(1, std::memory_order_relaxed) % kCollSlots];
    uint32_t free = 0;
    if (slot.busy.compare_exchange_strong(free, 1, std::memory_order_acquire, std::memory_order_relaxed)) return &slot;
  }
  return nullptr;
}

NcclResult start_coll_api(CommContext* ctx, void** handle, const EventDescr* d) {
  ApiHandle& api = ctx->api[ctx->api_next.fetch_add(1, std::memory_order_relaxed) % kApiSlots];
  api.t_ns = monotonic_ns();
  api.graph_captured = d->coll_api.graph_captured;
  api.user_tag = ctx->abi_version >= 7 ? d->coll_api.user_tag : 0;
  *handle = &api;
  return kNcclSuccess;
}

NcclResult start_coll(CommContext* ctx, void** handle, const EventDescr* d) {
  CollSlot* slot = claim_slot(ctx);
  if (!slot) {
    ctx->ring->header().dropped_pool_full.fetch_add(1, std::memory_order_relaxed);
    return kNcclSuccess;
  }
  const int64_t now = monotonic_ns();
  slot->ctx = ctx;
  slot->started.store(0, std::memory_order_relaxed);
  slot->state.store(0, std::memory_order_relaxed);
  const uint32_t channels = d->coll.n_channels;
  slot->expected = ctx->kernel_ch ? (channels < kMaxChannels ? channels : kMaxChannels) : 0;
  RingEntry& e = slot->entry;
  std::memset(reinterpret_cast<char*>(&e) + 2 * sizeof(uint64_t), 0, sizeof(RingEntry) - 2 * sizeof(uint64_t));
  e.comm_id = ctx->comm_id;
  e.seq_number = d->coll.seq_number;
  e.count = d->coll.count;
  e.coll_start_ns = now;
  e.rank = ctx->rank;
  e.n_ranks = ctx->n_ranks;
  e.channels = d->coll.n_channels;
  e.n_warps = d->coll.n_warps;
  e.elem_bytes = datatype_bytes(d->coll.datatype);
  e.flags = ctx->kernel_ch ? 0 : kFlagNoKernelCh;
  if (d->parent_obj && points_into(d->parent_obj, ctx->api)) {
    const auto* api = static_cast<const ApiHandle*>(d->parent_obj);
    e.user_tag = api->user_tag;
    if (api->graph_captured) {
      e.flags |= kFlagGraphCaptured;  // the CollApi was the capture's: its time says nothing about this launch
    } else {
      e.enqueue_ns = api->t_ns;
    }
  }
  if (ctx->abi_version >= 7) e.user_tag = d->coll.user_tag;
  copy_name(e.func, sizeof(e.func), d->coll.func);
  copy_name(e.algo, sizeof(e.algo), d->coll.algo);
  copy_name(e.proto, sizeof(e.proto), d->coll.proto);
  *handle = slot;
  return kNcclSuccess;
}

// Writes the slot's entry with the channels' times folded in, and frees the slot.
void complete(CollSlot* slot, bool in_flight) {
  RingEntry& e = slot->entry;
  e.done_ns = monotonic_ns();
  uint32_t n = slot->started.load(std::memory_order_acquire);
  if (n > slot->expected) n = slot->expected;
  uint32_t seen = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const ChannelHandle& c = slot->ch[i];
    if (c.start == 0 || c.stop == 0) continue;
    if (seen == 0 || c.start < e.gpu_start_first_ns) e.gpu_start_first_ns = c.start;
    if (seen == 0 || c.start > e.gpu_start_last_ns) e.gpu_start_last_ns = c.start;
    if (seen == 0 || c.stop < e.gpu_stop_first_ns) e.gpu_stop_first_ns = c.stop;
    if (seen == 0 || c.stop > e.gpu_stop_last_ns) e.gpu_stop_last_ns = c.stop;
    ++seen;
  }
  e.channels_seen = static_cast<uint8_t>(seen);
  if (in_flight) {
    e.flags |= kFlagIncomplete;
    slot->ctx->ring->header().incomplete.fetch_add(1, std::memory_order_relaxed);
  }
  slot->ctx->ring->publish(e);
  slot->busy.store(0, std::memory_order_release);
}

void add_to_state(CollSlot* slot, uint64_t delta) {
  const uint64_t now = slot->state.fetch_add(delta, std::memory_order_acq_rel) + delta;
  if (now == (kCollStopped | slot->expected)) complete(slot, false);
}

NcclResult start_channel(CommContext* ctx, void** handle, const EventDescr* d) {
  if (!d->parent_obj || !points_into(d->parent_obj, ctx->colls)) {
    ctx->ring->header().orphan_channels.fetch_add(1, std::memory_order_relaxed);
    return kNcclSuccess;
  }
  auto* slot = static_cast<CollSlot*>(d->parent_obj);
  const uint32_t i = slot->started.fetch_add(1, std::memory_order_acq_rel);
  if (i >= slot->expected) {  // more channels than the Coll announced: not ours to count
    ctx->ring->header().orphan_channels.fetch_add(1, std::memory_order_relaxed);
    return kNcclSuccess;
  }
  ChannelHandle& c = slot->ch[i];
  c.coll = slot;
  c.start = d->kernel_ch.p_timer;
  c.stop = 0;
  *handle = &c;
  return kNcclSuccess;
}

}  // namespace

uint8_t datatype_bytes(const char* name) {
  if (!name || std::strncmp(name, "nccl", 4) != 0) return 0;
  const char* t = name + 4;
  static const struct {
    const char* name;
    uint8_t bytes;
  } kTypes[] = {{"Int8", 1},  {"Uint8", 1},    {"Char", 1},   {"Float8e4m3", 1}, {"Float8e5m2", 1}, {"Float16", 2},
                {"Half", 2},  {"Bfloat16", 2}, {"Int32", 4},  {"Uint32", 4},     {"Int", 4},        {"Float32", 4},
                {"Float", 4}, {"Int64", 8},    {"Uint64", 8}, {"Float64", 8},    {"Double", 8}};
  for (const auto& k : kTypes) {
    if (std::strcmp(t, k.name) == 0) return k.bytes;
  }
  return 0;
}

NcclResult start_event(CommContext* ctx, void** handle, EventDescr* descr) {
  *handle = nullptr;
  if (!ctx || !descr) return kNcclSuccess;
  switch (descr->type) {
    case kEventCollApi: return start_coll_api(ctx, handle, descr);
    case kEventColl: return start_coll(ctx, handle, descr);
    case kEventKernelCh: return start_channel(ctx, handle, descr);
    default: return kNcclSuccess;  // GroupApi, Group, ...: no handle, NCCL then skips their stop and record
  }
}

NcclResult stop_event(void* handle) {
  if (!handle) return kNcclSuccess;
  switch (*static_cast<const uint64_t*>(handle)) {
    case kHandleColl: add_to_state(static_cast<CollSlot*>(handle), kCollStopped); break;
    case kHandleChannel: add_to_state(static_cast<ChannelHandle*>(handle)->coll, 1); break;
    default: break;  // a CollApi handle: its time was taken at the start
  }
  return kNcclSuccess;
}

NcclResult record_event_state(void* handle, int state, EventStateArgs* args) {
  if (!handle || !args || state != kStateKernelChStop) return kNcclSuccess;
  if (*static_cast<const uint64_t*>(handle) == kHandleChannel) {
    static_cast<ChannelHandle*>(handle)->stop = args->kernel_ch_p_timer;
  }
  return kNcclSuccess;
}

void flush_in_flight(CommContext* ctx) {
  for (CollSlot& slot : ctx->colls) {
    if (slot.busy.load(std::memory_order_acquire)) complete(&slot, true);
  }
}

}  // namespace wbprof
