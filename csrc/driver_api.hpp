// SPDX-License-Identifier: Apache-2.0
// Driver-API functions reached through the runtime's entry-point query, so the module never links
// libcuda and imports on machines without a driver.
#pragma once

#include <cuda.h>
#include <cudaTypedefs.h>

namespace wb {

struct DriverApi {
  PFN_cuStreamWaitValue32_v11070 stream_wait_value32 = nullptr;
  PFN_cuStreamWriteValue32_v11070 stream_write_value32 = nullptr;
};

// Resolved once, on first use; throws if the driver lacks a function.
const DriverApi& driver_api();

// Throws CudaError naming the call if a driver function returned an error.
void check_cu(CUresult res, const char* call);

}  // namespace wb
