// SPDX-License-Identifier: Apache-2.0
// One reader of /proc/<pid>/stat, for the barrier's liveness checks and the profiler plugin's ring
// header: a pid with its start time names one process, even after the pid is reused. Host-only.
#pragma once

#include <cstdint>

namespace wb {

// State (field 3) and start time in clock ticks (field 22) of /proc/<pid>/stat; false if it cannot be read.
bool read_proc_stat(int32_t pid, char* state, uint64_t* start_ticks);

}  // namespace wb
