// SPDX-License-Identifier: Apache-2.0
// The floor under every dispatch mode: a same-process hand-off. One atomic store on the request's
// arrival; a hot thread, spinning with pause on that word, sees it, then does the work (on a GPU:
// launches the forward kernel). Host-only here; the GPU floor passes the launch as `work`.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace wb {

struct HandoffSamples {
  std::vector<int64_t> arrival_ns;  // the store
  std::vector<int64_t> recv_ns;     // the hot thread saw it
};

// n hand-offs, gap_ns apart; work(i) runs on the hot thread right after it stamps recv_ns[i], and the
// next hand-off waits for it. Throws WaitExpired if a hand-off is not taken within timeout_s.
HandoffSamples handoff_floor(int n, int64_t gap_ns, double timeout_s, const std::function<void(int)>& work = {});

}  // namespace wb
