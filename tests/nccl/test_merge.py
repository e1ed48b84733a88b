# SPDX-License-Identifier: Apache-2.0
"""Per-rank records brought to one process through the store, and the merged JSON Lines of a real run.

The run is real: two processes, torch.distributed with the gloo backend on CPUs, one rank late.
"""

from __future__ import annotations

import json

import pytest

from waitbench.nccl import merge
from waitbench.nccl.config import ScenarioConfig
from waitbench.nccl.launch import run
from waitbench.nccl.records import error_record, skip_record
from waitbench.results import FIELD_NAMES, load_records, validate

torch = pytest.importorskip("torch", reason="waitbench nccl needs torch (pip install 'waitbench[torch]')")
dist = pytest.importorskip("torch.distributed")

CFG = ScenarioConfig(mode="nccl", backend="gloo", late_s=0.3, run_id="test-run")


def _rec(rank: int) -> dict:
    return skip_record(CFG, rank, 3, "a stand-in record for the merge test")


def _payload(rank: int, windows: int = 0) -> dict:
    return {"records": [_rec(rank)], "windows": [{"scenario": f"w{i}", "summary": {}} for i in range(windows)]}


def test_collect_orders_by_rank_and_fills_missing_ranks():
    store = dist.HashStore()
    merge.publish(store, 2, _payload(2, windows=1))
    merge.publish(store, 0, _payload(0, windows=2))
    got, windows = merge.collect(store, 3, timeout_s=0.2, missing=lambda r, why: error_record(CFG, r, 3, why))
    assert [r["rank"] for r in got] == [0, 1, 2]
    assert [(w["scenario"], w["rank"]) for w in windows] == [("w0", 0), ("w1", 0), ("w0", 2)]
    assert got[1]["status"] == "error" and got[1]["status_detail"].startswith("DistStoreError:")
    assert got[0]["status"] == got[2]["status"] == "skipped"
    assert got[0]["status_detail"] == "a stand-in record for the merge test"


def test_collect_replaces_a_corrupt_record():
    store = dist.HashStore()
    store.set(merge.payload_key(0), "{not json")
    merge.publish(store, 1, _payload(1))
    got, _ = merge.collect(store, 2, timeout_s=0.2, missing=lambda r, why: error_record(CFG, r, 2, why))
    assert got[0]["status_detail"].startswith("JSONDecodeError:") and got[1]["rank"] == 1


def test_publish_refuses_an_invalid_record():
    bad = _payload(0)
    del bad["records"][0]["late_s"]
    with pytest.raises(ValueError, match="late_s"):
        merge.publish(dist.HashStore(), 0, bad)


def test_store_get_waits_and_times_out():
    store = dist.HashStore()
    store.set("k", "v")
    assert merge.store_get(store, "k", 1.0) == "v"
    with pytest.raises(dist.DistStoreError):
        merge.store_get(store, "absent", 0.05)


def test_write_appends_loadable_records(tmp_path):
    out = tmp_path / "r.jsonl"
    assert merge.write(out, [_rec(0), _rec(1)]) == 2
    assert merge.write(out, [_rec(2)]) == 1
    assert [r["rank"] for r in load_records(out)] == [0, 1, 2]


@pytest.fixture(scope="module")
def merged(tmp_path_factory):
    out = tmp_path_factory.mktemp("nccl") / "merged.jsonl"
    run(["nccl+host-barrier", "nccl+dist-barrier"], out=out, nproc=2, backend="gloo", late_s=0.3, late_rank=1)
    return out


def test_merged_file_has_world_size_records_per_mode(merged):
    lines = merged.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    for rec in records:
        validate(rec)
        assert set(rec) == set(FIELD_NAMES)
    by_mode: dict[str, list[int]] = {}
    for rec in records:
        by_mode.setdefault(rec["strategy"], []).append(rec["rank"])
    assert by_mode == {"nccl+host-barrier": [0, 1], "nccl+dist-barrier": [0, 1]}
    assert len({r["run_id"] for r in records}) == 1
    assert all(r["record_kind"] == "nccl" and r["world_size"] == 2 and r["late_rank"] == 1 for r in records)
    assert all(r["status"] == "ok" for r in records), [r["status_detail"] for r in records]


def test_merged_file_loads_into_pandas(merged):
    pd = pytest.importorskip("pandas")
    from waitbench.results import load

    df = load(merged)
    assert isinstance(df, pd.DataFrame) and len(df) == 4
    assert sorted(df["rank"]) == [0, 0, 1, 1]
