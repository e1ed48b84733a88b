// SPDX-License-Identifier: Apache-2.0
// The waiter mechanisms behind Waiter::create and Waiter::create_external, each defined beside the
// primitives it drives: device_spin_waiter.cpp (the kernels of device_waits.cu), stream_wait_waiter.cpp
// (stream_waits.cpp), host_waiter.cpp (host_waits.cpp), external_waiter.cpp (a kernel written
// elsewhere to protocol.hpp).
#pragma once

#include <memory>

#include "host_waits.hpp"
#include "waiter.hpp"

namespace wb {

std::unique_ptr<Waiter> make_device_spin_waiter(const WaiterConfig& cfg);
std::unique_ptr<Waiter> make_stream_wait_value_waiter(const WaiterConfig& cfg);
std::unique_ptr<Waiter> make_host_waiter(const WaiterConfig& cfg, HostWaitMode mode);
std::unique_ptr<Waiter> make_external_waiter(const WaiterConfig& cfg, ExternalLauncher launch);

}  // namespace wb
