// SPDX-License-Identifier: Apache-2.0
// CPU wait instructions: detection, the probe under SIGILL, one wait each (see cpu_waits.hpp).
#include "cpu_waits.hpp"

#include <setjmp.h>
#include <signal.h>

#include <cstring>
#include <fstream>
#include <mutex>

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

namespace wb {
namespace {

#if defined(__x86_64__)
bool cpuid(unsigned leaf, unsigned sub, unsigned* a, unsigned* b, unsigned* c, unsigned* d) {
  if (__get_cpuid_max(leaf & 0x80000000u, nullptr) < leaf) return false;
  __cpuid_count(leaf, sub, *a, *b, *c, *d);
  return true;
}

// Arms the monitor on the word's line, looks once more (a write between the caller's look and the
// monitor would otherwise be slept through), then sleeps until the line is written or the timer ends.
__attribute__((target("mwaitx"))) void mwaitx_raw(const std::atomic<uint32_t>* word, uint32_t seen, uint32_t cycles) {
  _mm_monitorx(const_cast<std::atomic<uint32_t>*>(word), 0, 0);
  if (word->load(std::memory_order_acquire) != seen) return;
  _mm_mwaitx(2 /* timer enable */, 0xF0 /* C0: the lightest sleep */, cycles);
}

__attribute__((target("waitpkg"))) void umwait_raw(const std::atomic<uint32_t>* word, uint32_t seen, uint32_t cycles,
                                                   bool c01) {
  _umonitor(const_cast<std::atomic<uint32_t>*>(word));
  if (word->load(std::memory_order_acquire) != seen) return;
  _umwait(c01 ? 1u : 0u, __rdtsc() + cycles);
}

sigjmp_buf probe_jump;
void on_sigill(int) { siglongjmp(probe_jump, 1); }

// Runs `body` once; false if it raised SIGILL (the instruction is announced but trapped).
bool runs(void (*body)()) {
  struct sigaction sa{}, old{};
  sa.sa_handler = on_sigill;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGILL, &sa, &old);
  bool ok = false;
  if (sigsetjmp(probe_jump, 1) == 0) {
    body();
    ok = true;
  }
  sigaction(SIGILL, &old, nullptr);
  return ok;
}

alignas(64) std::atomic<uint32_t> probe_word{0};
void probe_mwaitx() { mwaitx_raw(&probe_word, 0, 1000); }
void probe_umwait() { umwait_raw(&probe_word, 0, 1000, true); }
#endif

CpuWaitSupport detect_mwaitx() {
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (!cpuid(0x80000001u, 0, &a, &b, &c, &d) || !(c & (1u << 29))) {
    return {false, "CPUID 0x80000001 ECX bit 29 (MONITORX/MWAITX) is clear: not an AMD Zen CPU, or the VM hides it"};
  }
  if (!runs(probe_mwaitx)) return {false, "MWAITX raised SIGILL: the hypervisor traps it"};
  return {true, ""};
#else
  return {false, "MWAITX is an x86-64 instruction"};
#endif
}

CpuWaitSupport detect_umwait() {
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (!cpuid(7, 0, &a, &b, &c, &d) || !(c & (1u << 5))) {
    return {false, "CPUID.(EAX=7,ECX=0):ECX bit 5 (WAITPKG: UMONITOR/UMWAIT) is clear: the CPU or the VM lacks it"};
  }
  std::ifstream control("/sys/devices/system/cpu/umwait_control/max_time");
  if (!control) return {false, "WAITPKG is announced but the kernel exposes no umwait_control (UMWAIT disabled)"};
  if (!runs(probe_umwait)) return {false, "UMWAIT raised SIGILL: the OS or the hypervisor disabled it"};
  return {true, ""};
#else
  return {false, "UMWAIT is an x86-64 instruction"};
#endif
}

}  // namespace

CpuWaitSupport mwaitx_support() {
  static std::once_flag once;
  static CpuWaitSupport s;
  std::call_once(once, [] { s = detect_mwaitx(); });
  return s;
}

CpuWaitSupport umwait_support() {
  static std::once_flag once;
  static CpuWaitSupport s;
  std::call_once(once, [] { s = detect_umwait(); });
  return s;
}

std::string cpu_model() {
#if defined(__x86_64__)
  unsigned regs[12];
  for (unsigned i = 0; i < 3; ++i) {
    if (!cpuid(0x80000002u + i, 0, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3])) return "";
  }
  char brand[49];
  std::memcpy(brand, regs, 48);
  brand[48] = '\0';
  std::string s(brand);
  const auto first = s.find_first_not_of(' ');
  return first == std::string::npos ? "" : s.substr(first, s.find_last_not_of(' ') - first + 1);
#else
  return "";
#endif
}

void mwaitx_once(const std::atomic<uint32_t>* word, uint32_t seen, uint32_t cycles) {
#if defined(__x86_64__)
  mwaitx_raw(word, seen, cycles);
#else
  (void)word, (void)seen, (void)cycles;
#endif
}

void umwait_once(const std::atomic<uint32_t>* word, uint32_t seen, uint32_t cycles, bool c01) {
#if defined(__x86_64__)
  umwait_raw(word, seen, cycles, c01);
#else
  (void)word, (void)seen, (void)cycles, (void)c01;
#endif
}

}  // namespace wb
