# SPDX-License-Identifier: Apache-2.0
"""The interference benchmark end to end on the GPU: records, the no-cost front-end and host waits,
NVML's 100% for a 1-warp spin, and a waiter on every SM reported as blocking concurrent work.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from waitbench import results
from waitbench.runner import Session, Settings, measure
from waitbench.throughput import PairPolicy

pytestmark = pytest.mark.gpu
SETTINGS = Settings(window_s=1.0, wake_trials=200,
                    pairs=PairPolicy(min_pairs=6, min_s=0.3, max_s=4.0, spread_target_pct=1.0, run_s=0.03))


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("runner") / "r.jsonl"
    writer = results.ResultsWriter(path)
    with Session(0, ["fma", "stream"], SETTINGS, writer) as s:
        yield s
    writer.close()


def _by_workload(recs: list[dict]) -> dict:
    return {r["workload"]: r for r in recs if r["record_kind"] == "workload"}


@pytest.mark.parametrize("name", ["stream-wait-value", "host-block"])
def test_front_end_and_host_waits_leave_concurrent_throughput_within_noise(session: Session, name: str) -> None:
    recs = session.measure(name)
    for wl, rec in _by_workload(recs).items():
        assert rec["status"] == "ok", rec["status_detail"]
        noise = max(3 * (rec["tput_ratio_spread_pct"] or 0) / 100, 0.02)
        assert abs(rec["tput_ratio"] - 1.0) <= noise, (wl, rec["tput_ratio"], rec["tput_ratio_spread_pct"])


def test_a_one_warp_spin_reads_as_fully_utilized(session: Session) -> None:
    waiter = session.measure("spin")[0]
    assert waiter["record_kind"] == "waiter"
    assert waiter["nvml_util_pct"] >= 95.0, waiter
    assert waiter["waiter_blocks"] == 1 and waiter["waiter_distinct_sms"] == 1


def test_a_waiter_on_every_sm_is_reported_as_blocking_concurrent_work(session: Session) -> None:
    from waitbench._native import native

    info = native().device_info(0)
    sms = info["sm_count"]
    # A block holding all the shared memory a block may take leaves no room on its SM for another
    # block (each block also needs the driver's ~1 KB), so nothing else can start anywhere.
    smem = info["smem_optin_per_block"] - native().spin_kernel_info(0, 32)["static_smem_bytes"]
    recs = session.measure("spin", blocks=sms, smem_bytes=smem)
    waiter = recs[0]
    assert waiter["waiter_distinct_sms"] == sms, waiter
    for wl, rec in _by_workload(recs).items():
        assert rec["status"] == "stalled", (wl, rec["tput_ratio"], {k: v for k, v in waiter.items() if "waiter" in k})
        assert rec["tput_ratio"] is None and rec["stall_ms"] >= 1000.0


def test_records_are_written_as_they_are_made_and_validate(session: Session) -> None:
    assert session.writer is not None
    back = results.load_records(session.writer.path)
    assert len(back) == len(session.records) > 0
    for rec in back:
        results.validate(rec)
        assert rec["gpu_uuid"].startswith("GPU-") and rec["driver_version"]


def test_measure_appends_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "m.jsonl"
    recs = measure("host-yield", workloads=["fma"], out=out, settings=SETTINGS)
    assert [r["record_kind"] for r in recs] == ["waiter", "workload"]
    assert len(results.load_records(out)) == 2
    assert recs[0]["host_cpu_pct"] is not None and recs[0]["host_cpu_pct"] > 50.0  # sched_yield keeps a core busy
