// SPDX-License-Identifier: Apache-2.0
// cuStreamWaitValue32 / cuStreamWriteValue32 through the driver entry points.
#include "stream_waits.hpp"

#include <cuda.h>

#include "driver_api.hpp"

namespace wb {

void enqueue_wait_value(cudaStream_t stream, const uint32_t* word, uint32_t value) {
  check_cu(driver_api().stream_wait_value32(reinterpret_cast<CUstream>(stream), reinterpret_cast<CUdeviceptr>(word),
                                            value, CU_STREAM_WAIT_VALUE_GEQ),
           "cuStreamWaitValue32");
}

void enqueue_write_value(cudaStream_t stream, uint32_t* word, uint32_t value) {
  check_cu(driver_api().stream_write_value32(reinterpret_cast<CUstream>(stream), reinterpret_cast<CUdeviceptr>(word),
                                             value, CU_STREAM_WRITE_VALUE_DEFAULT),
           "cuStreamWriteValue32");
}

}  // namespace wb
