// SPDX-License-Identifier: Apache-2.0
// The floor under each of waitbench's wake-up paths: the simplest round trip per path, sharing no
// code with waitbench. Persistent pinned host threads, one release flag, one ack word; a round trip
// is release (host writes the flag) -> the host sees the GPU's ack. Rows of kind "probe" add one
// ingredient of a fuller harness at a time (a release-store ack, a marker before a stream wait, an
// unpinned thread, a longer wait, CUDA calls on the timing thread between trials) so that a
// difference can be put down to its cause in the same run.
//
// Build: nvcc -O2 -std=c++17 -arch=sm_90 -o wake_floor benchmarks/wake_floor.cu
// Run:   wake_floor [--trials N] [--warmup N] [--gap-us G] [--device D] [--out FILE.json]
#include <cuda.h>
#include <cuda_runtime.h>
#include <cudaTypedefs.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

#define CK(call)                                                                                         \
  do {                                                                                                   \
    cudaError_t e_ = (call);                                                                             \
    if (e_ != cudaSuccess) throw std::runtime_error(std::string(#call) + ": " + cudaGetErrorString(e_)); \
  } while (0)

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}
void relax() { __builtin_ia32_pause(); }
void spin_ns(int64_t ns) {
  const int64_t end = now_ns() + ns;
  while (now_ns() < end) relax();
}
constexpr int64_t kTimeoutNs = 2000000000LL;  // every wait, host or device, ends within 2 s
constexpr uint32_t kReleaseAll = 0x7fffffff;  // a flag value that releases every generation left

// ---- device side ----------------------------------------------------------------------------
__device__ uint64_t gtimer() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
__device__ void st_release(uint32_t* p, uint32_t v) {
  asm volatile("st.release.sys.global.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}
// The fuller slot of a harness that reports how and when a wait ended (probes only).
struct alignas(64) Slot {
  uint32_t armed, ack, outcome, smid;
  uint64_t start_gt, wake_gt, pad[4];
};

__global__ void ack_kernel(uint32_t* ack, uint32_t gen) {
  if (threadIdx.x == 0) *(volatile uint32_t*)ack = gen;
}
// Probe: outcome and time first, then the ack with release semantics (a system-scope fence).
__global__ void release_ack_kernel(Slot* s, uint32_t gen) {
  if (threadIdx.x == 0) {
    s->smid = 0;
    s->wake_gt = gtimer();
    s->outcome = 1;
    st_release(&s->ack, gen);
  }
}
__global__ void marker_kernel(Slot* s, uint32_t gen) {
  if (threadIdx.x == 0) {
    s->start_gt = gtimer();
    st_release(&s->armed, gen);
  }
}
void launch_ack(Slot* s, uint32_t gen, bool release_ack, cudaStream_t st);

// One warp; lane 0 answers generations 1..n: waits for flag >= gen, then acks it.
template <bool kReleaseAck>
__global__ void spin_kernel(const uint32_t* flag, Slot* s, uint32_t n) {
  if (threadIdx.x != 0) return;
  for (uint32_t gen = 1; gen <= n; ++gen) {
    const uint64_t deadline = gtimer() + kTimeoutNs;
    for (uint32_t turn = 1; int32_t(*(const volatile uint32_t*)flag - gen) < 0; ++turn) {
      if (turn % 4096 == 0 && gtimer() > deadline) return;
    }
    if (kReleaseAck) {
      s->wake_gt = gtimer();
      s->outcome = 1;
      st_release(&s->ack, gen);
    } else {
      *(volatile uint32_t*)&s->ack = gen;
    }
  }
}

// Probe: what a fuller device waiter does between seeing the flag and the ack: read the time,
// settle the block's outcome in shared memory, meet the block at a barrier.
__global__ void spin_timer_cas_kernel(const uint32_t* flag, Slot* s, uint32_t n) {
  __shared__ uint32_t outcome;  // 0 pending, 1 released, 2 expired (every lane then returns)
  __shared__ uint64_t wake;
  for (uint32_t gen = 1; gen <= n; ++gen) {
    if (threadIdx.x == 0) {
      outcome = 0;
      const uint64_t deadline = gtimer() + kTimeoutNs;
      for (uint32_t turn = 1; int32_t(*(const volatile uint32_t*)flag - gen) < 0; ++turn) {
        if (turn % 4096 == 0 && gtimer() > deadline) {
          outcome = 2;
          break;
        }
      }
      const uint64_t now = gtimer();
      if (atomicCAS(&outcome, 0u, 1u) == 0u) wake = now;
    }
    __syncthreads();
    if (outcome == 2) return;
    if (threadIdx.x == 0) {
      *(volatile uint32_t*)&s->ack = gen;
      *(volatile uint64_t*)&s->wake_gt = wake;
    }
    __syncthreads();
  }
}

__device__ uint32_t sm_id() {
  uint32_t id;
  asm volatile("mov.u32 %0, %%smid;" : "=r"(id));
  return id;
}
// Probe: the floor's poller on one chosen SM. Launched with more 1-warp blocks than SMs; the first
// block that finds itself on `target` claims it, says so through s->armed, and polls; the rest exit.
__global__ void spin_on_sm_kernel(const uint32_t* flag, Slot* s, uint32_t n, uint32_t target, uint32_t* claim) {
  if (threadIdx.x != 0 || sm_id() != target || atomicCAS(claim, 0u, 1u) != 0u) return;
  *(volatile uint32_t*)&s->armed = 1;
  for (uint32_t gen = 1; gen <= n; ++gen) {
    const uint64_t deadline = gtimer() + kTimeoutNs;
    for (uint32_t turn = 1; int32_t(*(const volatile uint32_t*)flag - gen) < 0; ++turn) {
      if (turn % 4096 == 0 && gtimer() > deadline) return;
    }
    *(volatile uint32_t*)&s->ack = gen;
  }
}

// ---- host side ------------------------------------------------------------------------------
PFN_cuStreamWaitValue32_v11070 wait_value;
PFN_cuStreamWriteValue32_v11070 write_value;

void launch_ack(Slot* s, uint32_t gen, bool release_ack, cudaStream_t st) {
  if (release_ack) {
    release_ack_kernel<<<1, 32, 0, st>>>(s, gen);
  } else {
    ack_kernel<<<1, 32, 0, st>>>(&s->ack, gen);
  }
  CK(cudaGetLastError());
}

template <typename F>
void resolve(const char* name, F* fn) {
  void* p = nullptr;
  cudaDriverEntryPointQueryResult q{};
  CK(cudaGetDriverEntryPointByVersion(name, &p, 12000, cudaEnableDefault, &q));
  if (q != cudaDriverEntryPointSuccess || !p) throw std::runtime_error(std::string("driver lacks ") + name);
  *fn = reinterpret_cast<F>(p);
}
void cu(CUresult r, const char* what) {
  if (r != CUDA_SUCCESS) throw std::runtime_error(std::string(what) + " failed: CUresult " + std::to_string(r));
}

struct Mapped {  // pinned host memory the GPU reads and writes over the bus
  void* host = nullptr;
  void* dev = nullptr;
  explicit Mapped(size_t bytes) {
    CK(cudaHostAlloc(&host, bytes, cudaHostAllocMapped));
    std::memset(host, 0, bytes);
    CK(cudaHostGetDevicePointer(&dev, host, 0));
  }
  ~Mapped() { cudaFreeHost(host); }
};

uint32_t load(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
void store(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
bool reached(uint32_t word, uint32_t gen) { return int32_t(word - gen) >= 0; }
// Spins until *p reaches gen; false after 2 s.
bool await(const uint32_t* p, uint32_t gen) {
  const int64_t limit = now_ns() + kTimeoutNs;
  for (uint32_t turn = 1; !reached(load(p), gen); ++turn) {
    if (turn % 1024 == 0 && now_ns() > limit) return false;
    relax();
  }
  return true;
}

cpu_set_t g_all_cpus;
int g_main_cpu = -1, g_waiter_cpu = -1;

void pin_self(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu >= 0) {
    CPU_SET(cpu, &set);
  } else {
    set = g_all_cpus;
  }
  if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
    throw std::runtime_error("pthread_setaffinity_np");
  }
}

std::vector<int> parse_cpu_list(const std::string& s) {  // "3", "3,19", "2-3"
  std::vector<int> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) {
    const size_t dash = part.find('-');
    const int a = std::atoi(part.c_str()), b = dash == std::string::npos ? a : std::atoi(part.c_str() + dash + 1);
    for (int c = a; c <= b; ++c) out.push_back(c);
  }
  return out;
}

// Main on the second allowed CPU (the first takes most interrupts), the waiter on another core.
void choose_cpus() {
  if (sched_getaffinity(0, sizeof(g_all_cpus), &g_all_cpus) != 0) throw std::runtime_error("sched_getaffinity");
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &g_all_cpus)) cpus.push_back(c);
  }
  if (cpus.size() < 2) throw std::runtime_error("need at least 2 CPUs");
  g_main_cpu = cpus[1];
  std::ifstream f("/sys/devices/system/cpu/cpu" + std::to_string(g_main_cpu) + "/topology/thread_siblings_list");
  std::string line;
  std::vector<int> siblings = std::getline(f, line) ? parse_cpu_list(line) : std::vector<int>{g_main_cpu};
  for (int c : cpus) {
    if (std::find(siblings.begin(), siblings.end(), c) == siblings.end()) {
      g_waiter_cpu = c;
      break;
    }
  }
  if (g_waiter_cpu < 0) g_waiter_cpu = cpus[0] == g_main_cpu ? cpus[1] : cpus[0];
}

struct Row {
  std::string path, kind, note;
  std::vector<double> us;
  std::string error;
};

// A host thread that waits in some way for `flag` to reach each generation, then calls `work`.
// It says ready before each wait, so the release comes while it is really waiting.
enum class HostWait { kSpin, kYield, kBlock };

void futex_wait(uint32_t* w, uint32_t seen) {
  timespec ts{0, 100000000};
  syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, seen, &ts, nullptr, 0);
}
void futex_wake(uint32_t* w) { syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0); }

struct Opts {
  int trials = 10000, warmup = 200, device = 0;
  double gap_us = 20.0;
  std::string out;
};

class Harness {
 public:
  explicit Harness(const Opts& o) : o_(o) { CK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~Harness() { cudaStreamDestroy(stream_); }

  // The teardown of a path whose waits poll `flag` on stream_: release what is left, let it finish.
  std::function<void()> release_all(uint32_t* flag) {
    return [this, flag] {
      store(flag, kReleaseAll);
      CK(cudaStreamSynchronize(stream_));
    };
  }

  // One path: `setup(n)` before the trials (launch a persistent kernel, start a thread), then for
  // gen = 1..n: `arm(gen)` (enqueue; returns once waiting), gap, t0, `release(gen)`, await ack, t1,
  // `after(gen)` (what a fuller harness does between trials; probes only).
  Row run(const std::string& path, const std::string& kind, const std::string& note, double gap_us,
          const std::function<void(uint32_t)>& arm, const std::function<void(uint32_t)>& release, const uint32_t* ack,
          const std::function<void()>& teardown, const std::function<void(uint32_t)>& after = nullptr) {
    Row row{path, kind, note, {}, ""};
    const uint32_t n = uint32_t(o_.trials + o_.warmup);
    try {
      for (uint32_t gen = 1; gen <= n; ++gen) {
        arm(gen);
        spin_ns(int64_t(gap_us * 1e3));
        const int64_t t0 = now_ns();
        release(gen);
        if (!await(ack, gen)) throw std::runtime_error("no ack within 2 s at trial " + std::to_string(gen));
        const int64_t t1 = now_ns();
        if (gen > uint32_t(o_.warmup)) row.us.push_back((t1 - t0) / 1e3);
        if (after) after(gen);
      }
    } catch (const std::exception& e) {
      row.error = e.what();
    }
    teardown();
    return row;
  }

  Row device_spin(bool release_ack) {
    Mapped flag(64), slot(sizeof(Slot));
    auto* f = static_cast<uint32_t*>(flag.host);
    auto* s = static_cast<Slot*>(slot.host);
    const uint32_t n = uint32_t(o_.trials + o_.warmup);
    if (release_ack) {
      spin_kernel<true><<<1, 32, 0, stream_>>>(static_cast<uint32_t*>(flag.dev), static_cast<Slot*>(slot.dev), n);
    } else {
      spin_kernel<false><<<1, 32, 0, stream_>>>(static_cast<uint32_t*>(flag.dev), static_cast<Slot*>(slot.dev), n);
    }
    CK(cudaGetLastError());
    return run(
        release_ack ? "device-spin+release-ack" : "device-spin", release_ack ? "probe" : "floor",
        release_ack ? "ack after outcome and time, with st.release.sys" : "1 warp, lane 0 polls a host-mapped flag",
        o_.gap_us, [](uint32_t) {}, [f](uint32_t g) { store(f, g); }, &s->ack, release_all(f));
  }

  // Probe: the floor's device spin with the fuller waiter's steps between the flag and the ack.
  Row device_spin_timer_cas() {
    Mapped flag(64), slot(sizeof(Slot));
    auto* f = static_cast<uint32_t*>(flag.host);
    auto* s = static_cast<Slot*>(slot.host);
    spin_timer_cas_kernel<<<1, 32, 0, stream_>>>(static_cast<uint32_t*>(flag.dev), static_cast<Slot*>(slot.dev),
                                                 uint32_t(o_.trials + o_.warmup));
    CK(cudaGetLastError());
    return run(
        "device-spin+timer-cas", "probe", "reads %globaltimer, CAS in shared memory and a block barrier before the ack",
        o_.gap_us, [](uint32_t) {}, [f](uint32_t g) { store(f, g); }, &s->ack, release_all(f));
  }

  // Probe: the floor's device spin with its poller on SM `sm` (the PCIe round trip by SM).
  Row device_spin_on_sm(int sm, int sms) {
    Mapped flag(64), slot(sizeof(Slot)), claim(64);
    auto* f = static_cast<uint32_t*>(flag.host);
    auto* s = static_cast<Slot*>(slot.host);
    const std::string path = "device-spin on SM " + std::to_string(sm);
    spin_on_sm_kernel<<<2 * sms, 32, 0, stream_>>>(static_cast<uint32_t*>(flag.dev), static_cast<Slot*>(slot.dev),
                                                   uint32_t(o_.trials + o_.warmup), uint32_t(sm),
                                                   static_cast<uint32_t*>(claim.dev));
    CK(cudaGetLastError());
    const auto teardown = release_all(f);
    if (!await(&s->armed, 1)) {
      teardown();
      return Row{path, "probe", "", {}, "no block started on that SM within 2 s"};
    }
    return run(
        path, "probe", "the device-spin floor's poller placed on one SM", o_.gap_us, [](uint32_t) {},
        [f](uint32_t g) { store(f, g); }, &s->ack, teardown);
  }

  // marker: 0 none, 1 a kernel writing armed (release), 2 cuStreamWriteValue32 of armed.
  Row stream_wait(const std::string& path, const std::string& kind, const std::string& note, int marker,
                  bool release_ack, double gap_us) {
    Mapped flag(64), slot(sizeof(Slot));
    auto* f = static_cast<uint32_t*>(flag.host);
    auto* s = static_cast<Slot*>(slot.host);
    auto* sd = static_cast<Slot*>(slot.dev);
    auto arm = [&](uint32_t g) {
      if (marker == 1) marker_kernel<<<1, 32, 0, stream_>>>(sd, g);
      if (marker == 2) cu(write_value(stream_, CUdeviceptr(&sd->armed), g, CU_STREAM_WRITE_VALUE_DEFAULT), "write");
      cu(wait_value(stream_, CUdeviceptr(flag.dev), g, CU_STREAM_WAIT_VALUE_GEQ), "cuStreamWaitValue32");
      launch_ack(sd, g, release_ack, stream_);
      if (marker && !await(&s->armed, g)) throw std::runtime_error("marker not seen within 2 s");
    };
    return run(path, kind, note, gap_us, arm, [f](uint32_t g) { store(f, g); }, &s->ack, release_all(f));
  }

  Row launch(bool release_ack) {
    Mapped slot(sizeof(Slot));
    auto* s = static_cast<Slot*>(slot.host);
    auto* sd = static_cast<Slot*>(slot.dev);
    auto go = [&](uint32_t g) { launch_ack(sd, g, release_ack, stream_); };
    return run(
        release_ack ? "launch+release-ack" : "launch", release_ack ? "probe" : "floor",
        release_ack ? "ack kernel writes time and outcome, then the ack with st.release.sys"
                    : "a hot thread launches a 1-warp kernel that writes the ack",
        o_.gap_us, [](uint32_t) {}, go, &s->ack, [&] { CK(cudaStreamSynchronize(stream_)); });
  }

  // A persistent waiter thread; event: 0 none, 1 spin-sync event, 2 blocking-sync event. between:
  // what the timing thread does after each ack (probes): 0 nothing, 1 cudaStreamSynchronize of the
  // waiter's work stream, 2 cudaSetDevice.
  Row host(const std::string& path, const std::string& kind, const std::string& note, HostWait how, int event,
           bool pinned, int between = 0) {
    Mapped ack(64), dflag(64);
    auto* a = static_cast<uint32_t*>(ack.host);
    auto* df = static_cast<uint32_t*>(dflag.host);
    alignas(64) uint32_t hflag = 0;
    alignas(64) std::atomic<uint32_t> ready{0};
    std::atomic<bool> failed{false};
    cudaStream_t work = nullptr, wait_stream = nullptr;
    cudaEvent_t ev = nullptr;
    CK(cudaStreamCreateWithFlags(&work, cudaStreamNonBlocking));
    CK(cudaStreamCreateWithFlags(&wait_stream, cudaStreamNonBlocking));
    CK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming | (event == 2 ? cudaEventBlockingSync : 0)));
    const uint32_t n = uint32_t(o_.trials + o_.warmup);
    std::thread t([&] {
      try {
        pin_self(pinned ? g_waiter_cpu : -1);
        CK(cudaSetDevice(o_.device));
        for (uint32_t g = 1; g <= n && !failed; ++g) {
          if (event) {
            cu(wait_value(wait_stream, CUdeviceptr(dflag.dev), g, CU_STREAM_WAIT_VALUE_GEQ), "cuStreamWaitValue32");
            CK(cudaEventRecord(ev, wait_stream));
            ready.store(g, std::memory_order_release);
            CK(cudaEventSynchronize(ev));
          } else {
            ready.store(g, std::memory_order_release);
            const int64_t limit = now_ns() + kTimeoutNs;
            for (uint32_t turn = 1;; ++turn) {
              const uint32_t seen = load(&hflag);
              if (reached(seen, g)) break;
              if ((how != HostWait::kSpin || turn % 64 == 0) && now_ns() > limit) {
                throw std::runtime_error("waiter: no release within 2 s");
              }
              if (how == HostWait::kYield) sched_yield();
              else if (how == HostWait::kBlock) futex_wait(&hflag, seen);
              else relax();
            }
          }
          ack_kernel<<<1, 32, 0, work>>>(static_cast<uint32_t*>(ack.dev), g);
          CK(cudaGetLastError());
        }
      } catch (...) {
        failed = true;
      }
    });
    auto arm = [&](uint32_t g) {
      const int64_t limit = now_ns() + kTimeoutNs;
      while (ready.load(std::memory_order_acquire) != g) {
        if (failed || now_ns() > limit) throw std::runtime_error("waiter thread failed or not ready");
        relax();
      }
    };
    auto release = [&](uint32_t g) {
      if (event) {
        store(df, g);
      } else {
        store(&hflag, g);
        if (how == HostWait::kBlock) futex_wake(&hflag);
      }
    };
    auto after = [&](uint32_t) {
      if (between == 1) CK(cudaStreamSynchronize(work));
      if (between == 2) CK(cudaSetDevice(o_.device));
    };
    Row row = run(
        path, kind, note, o_.gap_us, arm, release, a,
        [&] {
          failed = true;
          store(df, kReleaseAll);
          store(&hflag, kReleaseAll);
          futex_wake(&hflag);
          t.join();
          cudaStreamSynchronize(wait_stream);
          cudaStreamSynchronize(work);
        },
        after);
    cudaEventDestroy(ev);
    cudaStreamDestroy(wait_stream);
    cudaStreamDestroy(work);
    return row;
  }

 private:
  Opts o_;
  cudaStream_t stream_ = nullptr;
};

double pct(std::vector<double> v, double q) {  // linear interpolation, as numpy's default
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const double x = q / 100.0 * double(v.size() - 1);
  const size_t i = size_t(x);
  return i + 1 < v.size() ? v[i] + (x - double(i)) * (v[i + 1] - v[i]) : v[i];
}

// Costs of the host calls a wake-up path might make (ns per call).
template <typename F>
double per_call_ns(F f, int n = 100000) {
  const int64_t t0 = now_ns();
  for (int i = 0; i < n; ++i) f();
  return double(now_ns() - t0) / n;
}

}  // namespace

int main(int argc, char** argv) {
  Opts o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--trials") o.trials = std::stoi(next());
    else if (a == "--warmup") o.warmup = std::stoi(next());
    else if (a == "--gap-us") o.gap_us = std::stod(next());
    else if (a == "--device") o.device = std::stoi(next());
    else if (a == "--out") o.out = next();
    else {
      std::fprintf(stderr, "usage: %s [--trials N] [--warmup N] [--gap-us G] [--device D] [--out FILE.json]\n",
                   argv[0]);
      return 2;
    }
  }
  if (o.trials < 100 || o.warmup < 0 || o.gap_us < 0) {
    std::fprintf(stderr, "--trials must be >= 100, --warmup >= 0, --gap-us >= 0\n");
    return 2;
  }
  try {
    CK(cudaSetDevice(o.device));
    CK(cudaFree(nullptr));
    resolve("cuStreamWaitValue32", &wait_value);
    resolve("cuStreamWriteValue32", &write_value);
    choose_cpus();
    pin_self(g_main_cpu);
    cudaDeviceProp prop{};
    CK(cudaGetDeviceProperties(&prop, o.device));
    int driver = 0;
    CK(cudaDriverGetVersion(&driver));
    Harness h(o);
    std::vector<Row> rows;
    rows.push_back(h.device_spin(false));
    rows.push_back(h.stream_wait("stream-wait-value", "floor",
                                 "cuStreamWaitValue32 on a host-mapped flag, then a 1-warp ack kernel", 0, false,
                                 o.gap_us));
    rows.push_back(h.launch(false));
    rows.push_back(
        h.host("host-spin", "floor", "waiter thread spins on an atomic, then launches", HostWait::kSpin, 0, true));
    rows.push_back(h.host("host-yield", "floor", "waiter thread sched_yield()s between loads, then launches",
                          HostWait::kYield, 0, true));
    rows.push_back(h.host("host-block", "floor", "waiter thread in FUTEX_WAIT, woken by FUTEX_WAKE, then launches",
                          HostWait::kBlock, 0, true));
    rows.push_back(h.host("event-spin-sync", "floor",
                          "cudaEventSynchronize (spin) on an event behind a stream wait, then launch", HostWait::kSpin,
                          1, true));
    rows.push_back(
        h.host("event-blocking-sync", "floor", "the same with cudaEventBlockingSync", HostWait::kSpin, 2, true));
    rows.push_back(h.device_spin(true));
    rows.push_back(h.device_spin_timer_cas());
    for (int k = 0; k < 5; ++k)
      rows.push_back(h.device_spin_on_sm(k * (prop.multiProcessorCount - 1) / 4, prop.multiProcessorCount));
    rows.push_back(h.launch(true));
    rows.push_back(h.stream_wait("swv+kernel-marker", "probe",
                                 "a 1-warp kernel writes armed (release) before the wait; host waits for it", 1, false,
                                 o.gap_us));
    rows.push_back(h.stream_wait("swv+write-marker", "probe",
                                 "cuStreamWriteValue32 writes armed before the wait; host waits for it", 2, false,
                                 o.gap_us));
    rows.push_back(h.stream_wait("swv+release-ack", "probe", "the ack kernel of launch+release-ack behind the wait", 0,
                                 true, o.gap_us));
    rows.push_back(
        h.stream_wait("swv gap x5", "probe", "the floor path released after 5x the gap", 0, false, 5 * o.gap_us));
    rows.push_back(h.host("host-spin unpinned", "probe", "host-spin with the waiter thread free to run on any CPU",
                          HostWait::kSpin, 0, false));
    rows.push_back(h.host("host-block unpinned", "probe", "host-block with the waiter thread free to run on any CPU",
                          HostWait::kBlock, 0, false));
    rows.push_back(h.host("host-spin+timer-sync", "probe",
                          "host-spin; the timing thread synchronizes the waiter's work stream after each ack",
                          HostWait::kSpin, 0, true, 1));
    rows.push_back(h.host("host-spin+timer-set-device", "probe",
                          "host-spin; the timing thread calls cudaSetDevice after each ack", HostWait::kSpin, 0, true,
                          2));

    timespec ts;
    const double mono = per_call_ns([&] { clock_gettime(CLOCK_MONOTONIC, &ts); });
    const double cpu = per_call_ns([&] { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); });
    const double setdev = per_call_ns([&] { cudaSetDevice(o.device); });
    alignas(64) uint32_t word = 0;
    const double wake = per_call_ns([&] { futex_wake(&word); }, 20000);

    std::ostringstream js;
    js << "{\"tool\": \"wake_floor\", \"gpu_name\": \"" << prop.name << "\", \"cuda_driver_version\": " << driver
       << ", \"trials\": " << o.trials << ", \"warmup\": " << o.warmup << ", \"gap_us\": " << o.gap_us
       << ", \"main_cpu\": " << g_main_cpu << ", \"waiter_cpu\": " << g_waiter_cpu
       << ", \"host_call_ns\": {\"clock_monotonic\": " << mono << ", \"clock_thread_cputime\": " << cpu
       << ", \"cuda_set_device\": " << setdev << ", \"futex_wake_no_waiter\": " << wake << "}, \"paths\": [";
    std::printf("%-24s %-6s %8s %8s %8s %8s %9s  %s\n", "path", "kind", "min", "p50", "p99", "p99.9", "trials", "us");
    bool ok = true;
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      ok = ok && r.error.empty();
      std::printf("%-24s %-6s %8.2f %8.2f %8.2f %8.2f %9zu  %s\n", r.path.c_str(), r.kind.c_str(), pct(r.us, 0),
                  pct(r.us, 50), pct(r.us, 99), pct(r.us, 99.9), r.us.size(), r.error.c_str());
      js << (i ? ", " : "") << "{\"path\": \"" << r.path << "\", \"kind\": \"" << r.kind << "\", \"note\": \"" << r.note
         << "\", \"trials\": " << r.us.size() << ", \"min_us\": " << pct(r.us, 0) << ", \"p50_us\": " << pct(r.us, 50)
         << ", \"p90_us\": " << pct(r.us, 90) << ", \"p99_us\": " << pct(r.us, 99)
         << ", \"p999_us\": " << pct(r.us, 99.9) << ", \"max_us\": " << pct(r.us, 100) << ", \"error\": \"" << r.error
         << "\"}";
    }
    js << "]}\n";
    std::printf(
        "host calls, ns each: clock_gettime(MONOTONIC) %.0f, (THREAD_CPUTIME) %.0f, cudaSetDevice %.0f, "
        "FUTEX_WAKE with no waiter %.0f; cpus main %d waiter %d\n",
        mono, cpu, setdev, wake, g_main_cpu, g_waiter_cpu);
    if (!o.out.empty()) {
      std::ofstream(o.out) << js.str();
    }
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wake_floor: %s\n", e.what());
    return 1;
  }
}
