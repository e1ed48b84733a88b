// SPDX-License-Identifier: Apache-2.0
// What waitbench._C's waiter and timing parts share: the Python-owned handle of a Waiter.
#pragma once

#include <memory>

#include "bind.hpp"
#include "common.hpp"
#include "waiter.hpp"

namespace wb {

// Owns a Waiter so Python can close it deterministically (the destructor aborts a live wait).
struct PyWaiter {
  std::unique_ptr<Waiter> impl;
  Waiter& get() {
    if (!impl) throw WaitError("the waiter is closed");
    return *impl;
  }
};

}  // namespace wb
