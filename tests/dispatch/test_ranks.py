# SPDX-License-Identifier: Apache-2.0
"""Real rank processes: every host-side mode delivers every request to every rank, with its arrival stamp.

Run on the CPU (no GPU needed): each rank records its host receive; the forward kernel is not launched.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from waitbench._native import host
from waitbench.dispatch import MODES, Settings, resolve_options, run_modes, unavailable
from waitbench.dispatch.ranks import ARRIVAL, OUTCOME, RECV
from waitbench.dispatch.records import dispatch_record

SMALL = Settings(ranks=2, requests=40, warmup=5, rate_hz=400.0, max_rate_requests=20, idle_s=0.5, timeout_s=10.0)


def _host_modes() -> list[str]:
    out = []
    for m in MODES.values():
        if not m.host_side or m.transport == "floor":
            continue
        need = {"pyzmq": "zmq", "torch": "torch"}
        if any(importlib.util.find_spec(need[n]) is None for n in m.needs if n in need):
            continue
        if any(not getattr(host(), f"{n}_support")()["available"] for n in m.needs if n in ("mwaitx", "umwait")):
            continue
        out.append(m.name)
    return out


def _run(name: str, settings: Settings):
    mode = MODES[name]
    [res] = list(run_modes([(mode, resolve_options(mode, {}))], settings))
    return res


@pytest.mark.parametrize("name", _host_modes())
def test_every_request_reaches_every_rank(name: str) -> None:
    res = _run(name, SMALL)
    assert res.status == "ok", res.detail
    n = len(SMALL.offsets_ns())
    assert sorted(res.ranks) == [0, 1]
    sent = res.ranks[0][:, ARRIVAL]
    for rows in res.ranks.values():
        assert len(rows) == n and (rows[:, OUTCOME] == 1).all()
        assert np.array_equal(rows[:, ARRIVAL], sent)  # each request, in order, with rank 0's stamp
        assert (rows[:, RECV] >= rows[:, ARRIVAL]).all()
    rec = dispatch_record(res, {"run_id": "t"}, cpu_model="", machine="test")
    assert rec["dispatch_requests"] == SMALL.requests and rec["dispatch_recv_p50_us"] > 0
    assert rec["host_cpu_pct"] is not None and rec["dispatch_max_rate_hz"] > 0
    assert all(0 <= r["idle_cpu_pct"] <= 100 * 8 for r in rec["dispatch_per_rank"])  # a process, a few threads
    assert rec["dispatch_per_rank"][0]["idle_cpu_pct"] < 50  # rank 0 sleeps until the next request


@pytest.mark.parametrize("name", ["shm-ring-futex", "zmq"])
def test_four_ranks(name: str) -> None:
    if name == "zmq":
        pytest.importorskip("zmq")  # XPUB passes each of the three subscriptions (XPUB_VERBOSE)
    s = Settings(ranks=4, requests=30, warmup=2, rate_hz=300.0, max_rate_requests=10, idle_s=0.5, timeout_s=10.0)
    res = _run(name, s)
    assert res.status == "ok", res.detail
    assert sorted(res.ranks) == [0, 1, 2, 3]
    assert all(np.array_equal(v[:, ARRIVAL], res.ranks[0][:, ARRIVAL]) for v in res.ranks.values())


def test_floor_runs_in_this_process() -> None:
    res = _run("floor", SMALL)
    assert res.status == "ok" and len(res.ranks[0]) == SMALL.requests
    assert (res.ranks[0][:, RECV] >= res.ranks[0][:, ARRIVAL]).all()


@pytest.mark.parametrize("name", ["mwaitx", "umwait"])
def test_cpu_wait_instruction_rows_are_null_with_a_reason_when_unavailable(name: str) -> None:
    support = getattr(host(), f"{name}_support")()
    reason = unavailable(MODES[name], SMALL)
    if support["available"]:
        assert reason is None
        return
    assert reason and reason == support["reason"]
    [res] = list(run_modes([(MODES[name], resolve_options(MODES[name], {}))], SMALL))
    rec = dispatch_record(res, {"run_id": "t"}, cpu_model="", machine="test")
    assert rec["status"] == "skipped" and rec["dispatch_recv_p99_us"] is None
    assert rec["null_reasons"]["dispatch_recv_p99_us"] == reason


def test_nccl_modes_skip_without_a_gpu_per_rank() -> None:
    for name in ("nccl-broadcast", "mp-barrier+nccl", "host-barrier+nccl"):
        assert "needs one GPU per rank" in unavailable(MODES[name], SMALL)


def test_a_spin_that_cannot_make_progress_is_refused() -> None:
    import os

    too_many = len(os.sched_getaffinity(0)) + 1
    s = Settings(ranks=too_many, requests=10, warmup=0, idle_s=0.5, timeout_s=5.0)
    assert "never yield" in unavailable(MODES["pause-spin"], s)
    assert unavailable(MODES["shm-ring-yield"], s) is None  # it yields: slow, but it progresses
