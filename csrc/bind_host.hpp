// SPDX-License-Identifier: Apache-2.0
// The host-only parts of the native module (no CUDA header): what a module built without a CUDA
// compiler registers too.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace wb {

void register_dispatch(pybind11::module_& m);  // bind_dispatch.cpp: the dispatch ring, CPU waits, hand-off floor

}  // namespace wb
