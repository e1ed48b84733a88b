// SPDX-License-Identifier: Apache-2.0
// The plugin's own cost per collective, on the CPU: the calls NCCL makes for one eager collective (CollApi
// start/stop, Coll start/stop, then per channel KernelCh start, KernelChStop record and stop), timed in a loop.
//
//   g++ -O2 -std=c++17 -Icsrc/profiler benchmarks/profiler_hot_path.cpp -ldl -o /tmp/hot_path
//   WAITBENCH_PROFILER_DIR=/tmp /tmp/hot_path <path of libnccl-profiler-waitbench.so> [channels] [reps]
//
// Prints ns per collective (median and spread of 21 batches), every event on one thread. In NCCL the channel
// events come from the proxy thread, which adds the moves of the slot's cache lines between cores: a cost this
// loop does not see (a two-thread hand-off harness measured its own spinning on a shared 2-core machine).
#include <dlfcn.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "nccl_abi.hpp"

using wbprof::EventDescr;
using wbprof::EventStateArgs;
using wbprof::ProfilerTable;

namespace {

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct Driver {
  ProfilerTable* t;
  void* ctx;
  int channels;
  uint64_t seq = 0;

  void* enqueue() {
    EventDescr d{};
    void* api = nullptr;
    d.type = wbprof::kEventCollApi;
    d.coll_api.func = "AllReduce";
    t->start_event(ctx, &api, &d);
    t->stop_event(api);
    void* coll = nullptr;
    d = EventDescr{};
    d.type = wbprof::kEventColl;
    d.parent_obj = api;
    d.coll.seq_number = seq++;
    d.coll.func = "AllReduce";
    d.coll.datatype = "ncclFloat32";
    d.coll.count = 2;
    d.coll.n_channels = static_cast<uint8_t>(channels);
    d.coll.algo = "RING";
    d.coll.proto = "LL";
    t->start_event(ctx, &coll, &d);
    t->stop_event(coll);
    return coll;
  }

  void kernel(void* coll, uint64_t t0) {
    void* ch[64];
    for (int c = 0; c < channels; ++c) {
      EventDescr d{};
      d.type = wbprof::kEventKernelCh;
      d.parent_obj = coll;
      d.kernel_ch.channel_id = static_cast<uint8_t>(c);
      d.kernel_ch.p_timer = t0 + c;
      ch[c] = nullptr;
      t->start_event(ctx, &ch[c], &d);
    }
    for (int c = 0; c < channels; ++c) {
      EventStateArgs a{};
      a.kernel_ch_p_timer = t0 + 1000 + c;
      if (ch[c]) {
        t->record_event_state(ch[c], wbprof::kStateKernelChStop, &a);
        t->stop_event(ch[c]);
      }
    }
  }
};

void report(const char* what, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::printf("%-44s median %7.1f ns  (min %7.1f, max %7.1f)\n", what, v[v.size() / 2], v.front(), v.back());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PLUGIN.so [channels] [reps]\n", argv[0]);
    return 2;
  }
  const int channels = argc > 2 ? std::atoi(argv[2]) : 2;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 200000;
  if (channels < 1 || channels > 64 || reps < 1) {
    std::fprintf(stderr, "channels must be 1..64 and reps >= 1\n");
    return 2;
  }
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    std::fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  auto* t = static_cast<ProfilerTable*>(dlsym(lib, "ncclProfiler_v6"));
  int mask = 0;
  void* ctx = nullptr;
  if (!t || t->init(&ctx, 0x1234, &mask, "bench", 1, 2, 0, nullptr) != 0) {
    std::fprintf(stderr, "plugin init failed\n");
    return 1;
  }
  Driver drv{t, ctx, channels};
  std::vector<double> one_thread;
  for (int batch = 0; batch < 21; ++batch) {
    int64_t t0 = now_ns();
    for (int i = 0; i < reps; ++i) drv.kernel(drv.enqueue(), 1000000 + i);
    one_thread.push_back(static_cast<double>(now_ns() - t0) / reps);
  }
  std::printf("plugin hot path, %d channels, %d collectives a batch, 21 batches\n", channels, reps);
  report("one thread (all events inline):", one_thread);
  t->finalize(ctx);
  return 0;
}
