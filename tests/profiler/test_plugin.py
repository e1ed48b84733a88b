# SPDX-License-Identifier: Apache-2.0
"""The plugin driven by the fake NCCL host exactly as NCCL's interface calls it, and its ring read back.

Each test gives synthetic GPU timestamps and checks that the ring holds exactly them, with the identity of
the collective, for every table NCCL may load (v5 on 2.28, v6 on 2.29-2.31.0, v7 on 2.31.2).
"""

from __future__ import annotations

import ctypes
import os

import pytest

from helpers.fake_nccl_host import COLL, COLL_API, KERNEL_CH, Collective
from waitbench.profiler.library import FULL_MASK, HOST_ONLY_MASK
from waitbench.profiler.ring import read_ring, ring_paths


def only_ring(ring_dir):
    (path,) = ring_paths(ring_dir, "test")
    return read_ring(path)


@pytest.mark.parametrize("abi", [5, 6, 7])
def test_each_table_records_a_collective_with_its_exact_times(make_host, ring_dir, abi):
    host = make_host(abi)
    comm = host.init(0xABCDEF0123456789, rank=1, n_ranks=4, name="tp")
    assert host.init_rc == 0 and host.mask == FULL_MASK
    assert host.table.name == b"waitbench"
    seq = comm.collective(Collective("AllReduce", [1000, 1010, 1005], [5000, 5020, 4990], count=256,
                                     datatype="ncclBfloat16", algo="TREE", proto="LL128", user_tag=42))
    (rec,) = only_ring(ring_dir).records
    assert rec["comm_id"] == "0xabcdef0123456789" and rec["rank"] == 1 and rec["n_ranks"] == 4
    assert (rec["func"], rec["seq_number"], rec["algo"], rec["proto"]) == ("AllReduce", seq, "TREE", "LL128")
    assert (rec["count"], rec["elem_bytes"], rec["bytes"]) == (256, 2, 512)
    assert (rec["channels"], rec["channels_seen"], rec["complete"]) == (3, 3, True)
    assert (rec["gpu_start_ns"], rec["gpu_start_last_ns"]) == (1000, 1010)
    assert (rec["gpu_stop_first_ns"], rec["gpu_stop_ns"], rec["kernel_ns"]) == (4990, 5020, 4020)
    assert rec["enqueue_ns"] <= rec["coll_start_ns"] <= rec["done_ns"]
    assert rec["user_tag"] == (42 if abi == 7 else None)  # userTag exists from v7 on: older tables never read it
    info = only_ring(ring_dir).comms
    assert info == [{"comm_id": "0xabcdef0123456789", "name": "tp", "rank": 1, "n_ranks": 4, "n_nodes": 1,
                     "abi_version": abi}]


def test_a_collective_is_written_only_when_its_last_channel_stops(make_host, ring_dir):
    comm = make_host().init(1, rank=0, n_ranks=2)
    c = Collective("Broadcast", [10, 20], [30, 40])
    coll, _ = comm.enqueue(c)  # Coll stopped: the kernel has not run yet
    assert only_ring(ring_dir).records == []
    first = comm.start(KERNEL_CH, parent=coll, channel_id=0, p_timer=10)
    second = comm.start(KERNEL_CH, parent=coll, channel_id=1, p_timer=20)
    comm.record_kernel_stop(first, 30)
    comm.stop(first)
    assert only_ring(ring_dir).records == []
    comm.record_kernel_stop(second, 40)
    comm.stop(second)
    (rec,) = only_ring(ring_dir).records
    assert (rec["gpu_start_ns"], rec["gpu_stop_ns"], rec["channels_seen"]) == (10, 40, 2)


def test_channels_that_stop_before_the_coll_stops_still_complete_it(make_host, ring_dir):
    comm = make_host().init(1, rank=0, n_ranks=2)
    api = comm.start(COLL_API, func="AllGather", count=8, datatype="ncclInt8")
    comm.stop(api)
    coll = comm.start(COLL, parent=api, seq_number=0, func="AllGather", count=8, datatype="ncclInt8", n_channels=1,
                      algo="RING", proto="LL")
    ch = comm.start(KERNEL_CH, parent=coll, channel_id=0, p_timer=7)
    comm.record_kernel_stop(ch, 9)
    comm.stop(ch)
    assert only_ring(ring_dir).records == []
    comm.stop(coll)
    assert [r["kernel_ns"] for r in only_ring(ring_dir).records] == [2]


def test_several_communicators_at_once_keep_their_own_sequence_and_identity(make_host, ring_dir):
    host = make_host()
    world = host.init(0x1111, rank=2, n_ranks=4, name="world")
    tp = host.init(0x2222, rank=0, n_ranks=2, name="tp")
    # Interleaved: tp's collective is in flight while world's runs start to end.
    c_tp = Collective("AllReduce", [100], [900])
    coll_tp, _ = tp.enqueue(c_tp)
    world.collective(Collective("AllReduce", [200], [300]))
    world.collective(Collective("AllGather", [400], [500]))
    tp.run_kernel(coll_tp, c_tp)
    ring = only_ring(ring_dir)
    got = [(r["comm_id"], r["rank"], r["func"], r["seq_number"], r["gpu_start_ns"]) for r in ring.records]
    assert got == [("0x0000000000001111", 2, "AllReduce", 0, 200), ("0x0000000000001111", 2, "AllGather", 0, 400),
                   ("0x0000000000002222", 0, "AllReduce", 0, 100)]
    assert [c["name"] for c in ring.comms] == ["world", "tp"] and ring.comms_live == 2
    tp.finalize()
    assert only_ring(ring_dir).comms_live == 1


def test_ring_overflow_keeps_the_newest_and_counts_the_lost(make_host, ring_dir, monkeypatch):
    monkeypatch.setenv("WAITBENCH_PROFILER_ENTRIES", "16")
    comm = make_host().init(5, rank=0, n_ranks=2)
    for i in range(40):
        comm.collective(Collective("AllReduce", [1000 * i], [1000 * i + 10]))
    ring = only_ring(ring_dir)
    assert (ring.capacity, ring.written, ring.lost, ring.torn) == (16, 40, 24, 0)
    assert [r["seq_number"] for r in ring.records] == list(range(24, 40))


def test_an_incremental_read_returns_only_what_is_new(make_host, ring_dir, monkeypatch):
    monkeypatch.setenv("WAITBENCH_PROFILER_ENTRIES", "16")
    comm = make_host().init(5, rank=0, n_ranks=2)
    for i in range(5):
        comm.collective(Collective("AllReduce", [i + 1], [i + 2]))
    first = only_ring(ring_dir)
    for i in range(30):
        comm.collective(Collective("AllReduce", [i + 1], [i + 2]))
    later = read_ring(first.path, since=first.next_ticket)
    assert later.lost == 35 - 16 - 5  # 14 tickets from 5 on were overwritten before this read
    assert [r["seq_number"] for r in later.records] == list(range(19, 35))


def test_too_many_collectives_in_flight_are_dropped_and_counted_never_blocking(make_host, ring_dir):
    comm = make_host().init(9, rank=0, n_ranks=2)
    c = Collective("AllReduce", [1], [2])
    pending = [comm.enqueue(c)[0] for _ in range(300)]  # the kernels never run: every slot stays in flight
    assert sum(h is None for h in pending) == 300 - 256
    assert only_ring(ring_dir).dropped_pool_full == 300 - 256
    for h in pending:  # NCCL starts kernel channels even under a NULL Coll handle
        comm.run_kernel(h, c)
    ring = only_ring(ring_dir)
    assert len(ring.records) == 256 and ring.orphan_channels == 300 - 256


def test_finalize_writes_what_is_still_in_flight_as_incomplete(make_host, ring_dir):
    comm = make_host().init(3, rank=0, n_ranks=2)
    c = Collective("ReduceScatter", [50, 60], [0, 0])
    comm.run_kernel(comm.enqueue(c)[0], c, stops=False)
    comm.finalize()
    ring = only_ring(ring_dir)
    (rec,) = ring.records
    assert not rec["complete"] and rec["channels_seen"] == 0 and rec["gpu_start_ns"] is None
    assert ring.incomplete == 1 and ring.comms_live == 0


def test_host_only_mask_records_without_kernel_channels(make_host, ring_dir, monkeypatch):
    monkeypatch.setenv("WAITBENCH_PROFILER_MASK", hex(HOST_ONLY_MASK))
    host = make_host()
    comm = host.init(4, rank=0, n_ranks=2)
    assert host.mask == HOST_ONLY_MASK
    comm.enqueue(Collective("AllReduce", [1], [2]))  # no channel events come
    (rec,) = only_ring(ring_dir).records
    assert rec["complete"] and rec["gpu_start_ns"] is None and rec["enqueue_ns"] is not None


@pytest.mark.parametrize("name, value", [("WAITBENCH_PROFILER_ENTRIES", "8"), ("WAITBENCH_PROFILER_ENTRIES", "x"),
                                         ("WAITBENCH_PROFILER_MASK", "0x4"), ("WAITBENCH_PROFILER_MASK", "0x3")])
def test_a_bad_setting_is_logged_as_a_warning_and_the_default_used(make_host, ring_dir, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    host = make_host()
    host.init(4, rank=0, n_ranks=2)
    assert host.init_rc == 0 and host.mask == FULL_MASK
    assert any(level == 2 and "is invalid" in fmt for level, fmt in host.logged)  # NCCL's WARN level
    assert only_ring(ring_dir).capacity == 1 << 15


def test_an_unwritable_folder_fails_init_and_every_call_after_is_harmless(make_host, ring_dir, monkeypatch):
    monkeypatch.setenv("WAITBENCH_PROFILER_DIR", str(ring_dir / "missing"))
    host = make_host()
    comm = host.init(4, rank=0, n_ranks=2)
    assert host.init_rc != 0 and comm.context is None and host.mask == 0
    assert [level for level, fmt in host.logged if fmt.startswith("waitbench profiler")] == [2]
    # NCCL 2.28 keeps calling a plugin whose init failed, with a NULL context (docs/PROFILER.md).
    assert comm.start(COLL, seq_number=0, func="AllReduce", n_channels=1) is None
    comm.stop(None)


def test_graph_captured_collectives_have_no_enqueue_time(make_host, ring_dir):
    comm = make_host().init(4, rank=0, n_ranks=2)
    comm.collective(Collective("AllReduce", [1], [2], graph_captured=True))
    (rec,) = only_ring(ring_dir).records
    assert rec["graph_captured"] and rec["enqueue_ns"] is None


def test_strings_from_nccl_are_copied_and_kept_inert(make_host, ring_dir):
    comm = make_host().init(4, rank=0, n_ranks=2)
    comm.collective(Collective("All\x1b[31mReduceXXXXXXXXXXXX", [1], [2], algo="RI\nNG"))
    (rec,) = only_ring(ring_dir).records
    assert rec["func"] == "All\\x1b[31mReduceXX"[: len(rec["func"])] and "\x1b" not in rec["func"]
    assert rec["algo"] == "RI\\nNG"  # escaped as waitbench.inert escapes every string from another process


def test_the_library_exports_only_the_plugin_tables(library):
    lib = ctypes.CDLL(library, mode=os.RTLD_NOW | os.RTLD_LOCAL)
    for abi in (5, 6, 7):
        assert hasattr(lib, f"ncclProfiler_v{abi}")
    internal = "_ZN6wbprof11start_eventEPNS_11CommContextEPPvPNS_10EventDescrE"  # wbprof::start_event
    for hidden in ("ncclProfiler_v4", "ncclProfiler_v8", internal):
        assert not hasattr(lib, hidden)


def test_the_plugin_compiles_with_a_plain_cxx_compiler_and_no_cuda_header(tmp_path):
    import shutil
    import subprocess
    from pathlib import Path

    cxx = shutil.which("c++") or shutil.which("g++")
    if cxx is None:
        pytest.skip("no C++ compiler on PATH")
    src = Path(__file__).resolve().parents[2] / "csrc" / "profiler"
    for f in sorted(src.glob("*.cpp")):
        subprocess.run([cxx, "-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", f"-I{src}", str(f)],
                       check=True, timeout=120)
    includes = [line for f in src.iterdir() for line in f.read_text().splitlines() if line.startswith("#include")]
    assert includes and not [line for line in includes if "cuda" in line.lower() or "nccl.h" in line]
