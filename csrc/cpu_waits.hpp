// SPDX-License-Identifier: Apache-2.0
// CPU wait instructions a host waiter can use between two looks at a word, and whether this CPU (and
// the VM it runs in) lets user code execute them. Host-only: no CUDA.
//
// - pause: the spin hint every spin loop uses (vLLM's VLLM_USE_SPINLOOP_EXT falls back to it).
// - MONITORX/MWAITX (AMD, CPUID 0x80000001 ECX bit 29): the core sleeps until the monitored line is
//   written or a TSC-based timer ends; allowed at CPL3 by design (vLLM PR #36517).
// - UMONITOR/UMWAIT (Intel WAITPKG, CPUID.(EAX=7,ECX=0):ECX bit 5): the same, until a TSC deadline that
//   the OS caps through IA32_UMWAIT_CONTROL (Linux: /sys/devices/system/cpu/umwait_control).
// An instruction that CPUID announces but the hypervisor traps is found by running it once under a
// SIGILL handler: the row is then unavailable with that reason, never a crash.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace wb {

struct CpuWaitSupport {
  bool available = false;
  std::string reason;  // why not, when unavailable
};

CpuWaitSupport mwaitx_support();  // probed once, then cached
CpuWaitSupport umwait_support();
std::string cpu_model();  // the CPUID brand string ("" where there is none)

// One wait for *word to differ from `seen`, at most about `cycles` TSC cycles (the caller loops and
// checks its deadline). Each returns at once if the word already differs. Call only where the
// matching *_support() said available.
void mwaitx_once(const std::atomic<uint32_t>* word, uint32_t seen, uint32_t cycles);
void umwait_once(const std::atomic<uint32_t>* word, uint32_t seen, uint32_t cycles, bool c01);

}  // namespace wb
