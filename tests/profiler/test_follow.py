# SPDX-License-Identifier: Apache-2.0
"""The ring follower: each poll returns the instances now whole, once; one whose ranks never all come, when old."""

from __future__ import annotations

from helpers.fake_nccl_host import Collective
from waitbench.profiler.follow import RingFollower, list_rings

MS = 1_000_000


def test_an_instance_comes_once_when_whole_and_history_can_be_skipped(make_host, ring_dir):
    host = make_host()
    a, b = host.init(0x42, rank=0, n_ranks=2), host.init(0x42, rank=1, n_ranks=2)
    a.collective(Collective("AllReduce", [1], [2]))
    b.collective(Collective("AllReduce", [1], [2]))
    fresh = RingFollower(ring_dir, "test")
    fresh.skip_history()
    assert fresh.poll().records == {}  # written before: skipped
    follower = RingFollower(ring_dir, "test")
    a.collective(Collective("AllReduce", [10 * MS], [12 * MS]))
    first = follower.poll()
    assert sorted(r["seq_number"] for r in first.records["test"]) == [0, 0]  # the history, whole
    assert [len(v) for v in first.rings.values()] == [1]
    b.collective(Collective("AllReduce", [11 * MS], [12 * MS]))
    second = follower.poll()
    assert sorted((r["rank"], r["seq_number"]) for r in second.records["test"]) == [(0, 1), (1, 1)]
    assert follower.poll().records == {}  # nothing new: nothing twice
    assert sorted(r["seq_number"] for r in fresh.poll().records["test"]) == [1, 1]  # only what came after the skip


def test_an_instance_a_rank_never_reports_is_counted_when_old(make_host, ring_dir):
    host = make_host()
    a = host.init(0x43, rank=0, n_ranks=2)  # rank 1 runs on another host: its record never comes here
    follower = RingFollower(ring_dir, max_age=2)
    a.collective(Collective("Broadcast", [1], [2]))
    assert follower.poll().records == {}
    assert follower.poll().records == {}
    (rec,) = follower.poll().records["test"]
    assert rec["rank"] == 0 and rec["func"] == "Broadcast"


def test_a_missing_folder_lists_no_ring(tmp_path):
    assert list_rings(tmp_path / "missing") == []
    assert RingFollower(tmp_path / "missing").poll().records == {}
