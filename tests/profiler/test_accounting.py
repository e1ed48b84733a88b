# SPDX-License-Identifier: Apache-2.0
"""Wait accounting on synthetic multi-rank rings with known, injected delays: exact waits, late ranks, matrix.

The rings are written by the plugin itself (through the fake NCCL host), one rank per process where a test
needs one ring per rank, so the whole path (plugin -> ring -> reader -> accounting) is what is checked.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers.fake_nccl_host import Collective, run_rank_process
from waitbench.profiler.accounting import account
from waitbench.profiler.recording import load_sources
from waitbench.profiler.render import clock_free_sentences, seconds, tables, wait_sentences
from waitbench.profiler.ring import read_ring, ring_paths

MS = 1_000_000
TRANSFER = 50_000  # every rank's transfer after the last arrival: 50 us


def play_job(make_host, delays: list[list[int]], func: str = "AllReduce", comm_id: int = 0x77) -> list:
    """One process holding every rank (as a single-process multi-GPU job): instance k, rank r arrives
    delays[k][r] ns after the instance's base time, on 2 channels 100 ns apart.
    """
    host = make_host()
    n = len(delays[0])
    comms = [host.init(comm_id, rank=r, n_ranks=n) for r in range(n)]
    for k, row in enumerate(delays):
        base = 10**10 * (k + 1)
        last = base + max(row)
        for r, c in enumerate(comms):
            starts, stops = [base + row[r], base + row[r] + 100], [last + TRANSFER - 10, last + TRANSFER]
            c.collective(Collective(func, starts, stops))
    return comms


def records(ring_dir) -> list[dict]:
    return [r for p in ring_paths(ring_dir, "test") for r in read_ring(p).records]


def test_waits_late_rank_and_matrix_are_exact(make_host, ring_dir):
    delays = [[0, 3 * MS, 1 * MS, 2 * MS],  # rank 1 late by 3 ms
              [5 * MS, 0, 0, 0],  # rank 0 late by 5 ms
              [0, 4 * MS, 0, 1 * MS]]  # rank 1 late by 4 ms
    play_job(make_host, delays)
    acc = account(records(ring_dir))
    assert [(i.seq_number, i.late_rank) for i in acc.instances] == [(0, 1), (1, 0), (2, 1)]
    assert [i.wait_ns for i in acc.instances] == [[3 * MS, 0, 2 * MS, 1 * MS], [0, 5 * MS, 5 * MS, 5 * MS],
                                                  [4 * MS, 0, 4 * MS, 3 * MS]]
    assert all(i.transfer_ns == [TRANSFER] * 4 for i in acc.instances)
    expected = np.zeros((4, 4))
    expected[[0, 2, 3], 1] = [7e-3, 6e-3, 4e-3]
    expected[[1, 2, 3], 0] = 5e-3
    np.testing.assert_allclose(acc.matrices["0x0000000000000077"], expected, rtol=0, atol=1e-12)
    totals = acc.ranks[("0x0000000000000077", 2)]
    assert totals.wait_ns == 11 * MS and totals.kernel_ns == 11 * MS + 3 * TRANSFER and totals.late_count == 0
    assert totals.wait_share == pytest.approx(11 * MS / (11 * MS + 3 * TRANSFER), abs=0, rel=1e-12)
    assert acc.ranks[("0x0000000000000077", 1)].late_count == 2
    assert [i.seq_number for i in acc.slowest(2)] == [1, 2]  # spans 5.05, 4.05 ms
    assert acc.clock_suspect == 0 and acc.notes == []


def test_one_ring_per_rank_process_gives_the_same_figures(library, ring_dir):
    late = 2310 * MS  # the example: rank 1 waits 2.31 s on rank 0 in a Broadcast
    for rank, arrival in ((0, late), (1, 0)):
        run_rank_process(library, ring_dir, {"comm_id": 0xB0, "rank": rank, "n_ranks": 2, "collectives": [
            {"func": "Broadcast", "starts": [10**12 + arrival], "stops": [10**12 + late + 71 * MS]}]})
    rings = load_sources([ring_dir], job="test")
    assert len(rings) == 2 and len({r.pid for r in rings}) == 2
    acc = account(r for ring in rings for r in ring.records)
    (inst,) = acc.instances
    assert inst.late_rank == 0 and inst.wait_ns == [0, late]
    assert wait_sentences(acc) == ["rank 1 waited 2.31 s on rank 0 in Broadcast, 97% of its kernel time (1 collective)"]


def test_across_hosts_only_the_clock_free_figures_compare_ranks(make_host, ring_dir):
    play_job(make_host, [[0, 2 * MS, 0, 0]] * 4)
    recs = records(ring_dir)
    for r in recs:  # ranks 2 and 3 on another host whose GPU clock is 1 hour off
        if r["rank"] >= 2:
            r["host"] = "other"
            for k in ("gpu_start_ns", "gpu_stop_ns"):
                r[k] += 3600 * 10**9
    acc = account(recs)
    here = recs[0]["host"]
    assert {(i.host, tuple(i.ranks)) for i in acc.instances} == {(here, (0, 1)), ("other", (2, 3))}
    assert len(acc.instances) == 8 and all(i.partial for i in acc.instances)
    by_host = {i.host: i for i in acc.instances if i.seq_number == 0}
    assert by_host["other"].wait_ns == [0, 0]  # rank 1's lateness is invisible among ranks 2 and 3
    # Clock-free: rank 1 spends the least kernel time in every collective; the others' excess is its lateness.
    least = {rank: t.least_kernel_count for (_, rank), t in acc.ranks.items()}
    assert least == {0: 0, 1: 4, 2: 0, 3: 0}
    assert {rank: t.kernel_excess_ns for (_, rank), t in acc.ranks.items()} == {0: 8 * MS, 1: 0, 2: 8 * MS,
                                                                               3: 8 * MS}
    (line,) = clock_free_sentences(acc)
    assert line.startswith("rank 1 spent the least kernel time in 100% of 4 collectives")


def test_disagreeing_clocks_are_flagged_not_hidden(make_host, ring_dir):
    play_job(make_host, [[0, MS]])
    recs = records(ring_dir)
    recs[0]["gpu_stop_ns"] = recs[1]["gpu_start_ns"] - 1  # rank 0 "finished" an AllReduce before rank 1 arrived
    acc = account(recs)
    assert acc.clock_suspect == 1 and acc.instances[0].clock_suspect
    assert any("clocks disagree" in n for n in acc.notes)


def test_broadcast_may_end_before_the_last_arrival_without_suspicion(make_host, ring_dir):
    play_job(make_host, [[0, MS]], func="Broadcast")
    recs = records(ring_dir)
    recs[0]["gpu_stop_ns"] = recs[1]["gpu_start_ns"] - 1
    assert account(recs).clock_suspect == 0


def test_records_without_kernel_times_and_duplicates_are_left_out_and_said(make_host, ring_dir):
    play_job(make_host, [[0, MS], [MS, 0]])
    recs = records(ring_dir)
    recs[0] = {**recs[0], "gpu_start_ns": None, "gpu_stop_ns": None}
    acc = account([*recs, dict(recs[3])])
    assert (acc.records, acc.without_kernel, acc.duplicates) == (5, 1, 1)
    assert [i.seq_number for i in acc.instances] == [1]
    assert len(acc.notes) == 2


def test_sequence_numbers_are_per_function(make_host, ring_dir):
    host = make_host()
    a, b = host.init(9, rank=0, n_ranks=2), host.init(9, rank=1, n_ranks=2)
    for c, late in ((a, 0), (b, MS)):
        c.collective(Collective("AllReduce", [10**9 + late], [10**9 + MS + 5]))
        c.collective(Collective("AllGather", [2 * 10**9 + (MS - late)], [2 * 10**9 + MS + 5]))
    acc = account(records(ring_dir))
    assert [(i.func, i.seq_number, i.late_rank) for i in acc.instances] == [("AllReduce", 0, 1), ("AllGather", 0, 0)]


def test_tables_carry_the_same_numbers_as_the_sentences(make_host, ring_dir):
    play_job(make_host, [[0, 3 * MS]] * 2)
    acc = account(records(ring_dir))
    ranks, slowest, matrix = tables(acc)
    assert [row["wait_s"] for row in ranks.raw] == [pytest.approx(6e-3, abs=1e-15), 0.0]
    assert matrix.raw[0]["on_rank_1_s"] == pytest.approx(6e-3, abs=1e-15)
    assert slowest.cells[0][6] == "1"
    assert wait_sentences(acc)[0].startswith("rank 0 waited 6 ms on rank 1 in AllReduce, 98% of its kernel time")


@pytest.mark.parametrize("ns, text", [(2.31e9, "2.31 s"), (3.1e8, "310 ms"), (12e3, "12 µs"), (85, "85 ns"),
                                      (0, "0 ns")])
def test_durations_read_in_their_unit(ns, text):
    assert seconds(ns) == text
