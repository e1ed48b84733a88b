// SPDX-License-Identifier: Apache-2.0
#include "proc_stat.hpp"

#include <cstdio>
#include <cstring>

namespace wb {

bool read_proc_stat(int32_t pid, char* state, uint64_t* start_ticks) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "re");
  if (!f) return false;
  char buf[1024];
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // comm may hold spaces and parentheses
  if (!p) return false;
  unsigned long long start = 0;
  char st = 0;
  // after ") ": state, then fields 4..21 skipped, then starttime (22)
  if (std::sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &st,
                  &start) != 2) {
    return false;
  }
  *state = st;
  *start_ticks = start;
  return true;
}

}  // namespace wb
