// SPDX-License-Identifier: Apache-2.0
// waitbench._C: a thin, coarse pybind11 module. No CUDA call happens at import. Every call that
// can block (arming, waiting, timing) releases the GIL, and returns plain values or numpy arrays.
// Each area registers its part (bind.hpp); python/waitbench/_C.pyi describes the whole. Built only
// where a CUDA compiler is found; the host-only parts are waitbench._host (host_module.cpp).
#include "bind.hpp"

using namespace wb;

PYBIND11_MODULE(_C, m) {
  m.doc() = "waitbench native core: wait strategies, wake-up timing and workloads (see waitbench/*.py).";
  register_errors();
  register_device(m);
  register_waiter(m);
  register_timing(m);
  register_workloads(m);
  register_ack_probe(m);
  register_forward(m);
}
