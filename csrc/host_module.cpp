// SPDX-License-Identifier: Apache-2.0
// waitbench._host: the host-only native parts (the host clock, the cross-process barrier, the dispatch
// ring and CPU waits), built on
// every machine with a C++ compiler, CUDA or not; python/waitbench/_host.pyi describes it. The CUDA
// core is waitbench._C (module.cpp). No CUDA header, no CUDA call.
#include "bind.hpp"

PYBIND11_MODULE(_host, m) {
  m.doc() = "waitbench host-only core: the host clock, the cross-process barrier, the dispatch ring.";
  wb::register_errors();
  wb::register_clock(m);
  wb::register_barrier(m);
  wb::register_dispatch(m);
}
