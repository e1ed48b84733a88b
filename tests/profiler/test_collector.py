# SPDX-License-Identifier: Apache-2.0
"""The Prometheus collector: each scrape counts only what the rings gained, an instance once all its ranks are in."""

from __future__ import annotations

import pytest

from helpers.fake_nccl_host import Collective
from waitbench.profiler.collector import ProfilerCollector

MS = 1_000_000


def samples(collector: ProfilerCollector) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for fam in collector.collect() for s in fam.samples}


def test_waits_are_counted_once_each_when_every_rank_reported(make_host, ring_dir):
    pytest.importorskip("prometheus_client")
    host = make_host()
    a, b = host.init(0x42, rank=0, n_ranks=2), host.init(0x42, rank=1, n_ranks=2)
    col = ProfilerCollector(str(ring_dir), job="test", hostname="node-1")
    base = 10**9
    a.collective(Collective("AllReduce", [base], [base + 3 * MS]))  # rank 0 waits 2 ms on rank 1
    first = samples(col)
    assert not any(name == "waitbench_nccl_wait_seconds_total" for name, _ in first)  # rank 1 has not reported
    b.collective(Collective("AllReduce", [base + 2 * MS], [base + 3 * MS]))
    common = (("Hostname", "node-1"), ("collective", "AllReduce"), ("comm", "0x0000000000000042"))
    key = ("waitbench_nccl_wait_seconds_total", (*common, ("on_rank", "1"), ("profiler_job", "test"), ("rank", "0")))
    assert samples(col)[key] == pytest.approx(2e-3, abs=1e-12)
    assert samples(col)[key] == pytest.approx(2e-3, abs=1e-12)  # a scrape with nothing new adds nothing
    late = ("waitbench_nccl_late_total", (*common, ("profiler_job", "test"), ("rank", "1")))
    assert samples(col)[late] == 1
