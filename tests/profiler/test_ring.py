# SPDX-License-Identifier: Apache-2.0
"""Rings after the worst: a rank process that died, a torn entry, a corrupt one, a partial copy, a foreign file.

The dead rank is a real process (the fake NCCL host run as a script) that records collectives and exits
without finalize, one collective's kernel still in flight; a torn entry is made the way a writer that died
mid-write leaves it (an odd sequence word), and a corrupt one by changing a payload byte.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers.fake_nccl_host import Collective, run_rank_process
from waitbench.errors import ResultsError
from waitbench.profiler import layout
from waitbench.profiler.recording import load_sources, read_recording, write_recording
from waitbench.profiler.ring import read_ring, ring_paths


def run_rank(library: str, ring_dir: Path, rank: int, collectives: list[dict], **extra: object) -> None:
    run_rank_process(library, ring_dir, {"comm_id": 0x5151, "rank": rank, "n_ranks": 2, "collectives": collectives,
                                         **extra})


def colls(n: int) -> list[dict]:
    return [{"func": "AllReduce", "starts": [100 * i, 100 * i + 1], "stops": [100 * i + 50] * 2} for i in range(n)]


def test_a_rank_that_died_leaves_a_readable_ring(library, ring_dir):
    run_rank(library, ring_dir, 0, colls(5), die=True, die_with_coll_in_flight=True)
    (path,) = ring_paths(ring_dir, "test")
    ring = read_ring(path)
    assert ring.alive is False and ring.comms_live == 1 and ring.died
    assert [r["seq_number"] for r in ring.records] == [0, 1, 2, 3, 4]  # the one in flight was never written
    assert ring.torn == 0 and ring.lost == 0


def test_a_rank_that_finalized_is_not_called_dead(library, ring_dir):
    run_rank(library, ring_dir, 0, colls(2))
    ring = read_ring(ring_paths(ring_dir, "test")[0])
    assert ring.alive is False and ring.comms_live == 0 and not ring.died


def _copy_with(path: Path, tmp: Path, edit) -> Path:
    out = tmp / path.name
    shutil.copy(path, out)
    raw = bytearray(out.read_bytes())
    edit(raw)
    out.write_bytes(bytes(raw))
    return out


def test_a_torn_or_corrupt_entry_is_skipped_and_counted(library, ring_dir, tmp_path_factory):
    run_rank(library, ring_dir, 0, colls(4))
    path = ring_paths(ring_dir, "test")[0]
    tmp = tmp_path_factory.mktemp("copy")

    def tear(raw: bytearray) -> None:  # entry 1 left mid-write: its sequence word odd (2 * ticket + 1)
        at = layout.ENTRIES_OFFSET + 1 * layout.ENTRY_BYTES
        raw[at:at + 8] = (2 * 1 + 1).to_bytes(8, "little")

    def corrupt(raw: bytearray) -> None:  # entry 2's GPU start changed after its checksum was taken
        at = layout.ENTRIES_OFFSET + 2 * layout.ENTRY_BYTES + layout.ENTRY.fields["gpu_start_first_ns"][1]
        raw[at] ^= 0x01

    torn = read_ring(_copy_with(path, tmp, tear))
    assert [r["seq_number"] for r in torn.records] == [0, 2, 3] and torn.torn == 1
    (tmp / path.name).unlink()
    bad = read_ring(_copy_with(path, tmp, corrupt))
    assert [r["seq_number"] for r in bad.records] == [0, 1, 3] and bad.torn == 1


def test_a_partial_copy_is_read_as_far_as_it_goes(library, ring_dir, tmp_path):
    run_rank(library, ring_dir, 0, colls(3))
    path = ring_paths(ring_dir, "test")[0]
    cut = tmp_path / path.name
    cut.write_bytes(path.read_bytes()[:layout.ENTRIES_OFFSET + 2 * layout.ENTRY_BYTES + 77])
    ring = read_ring(cut)
    assert ring.truncated and [r["seq_number"] for r in ring.records] == [0, 1]


@pytest.mark.parametrize("content, why", [(b"", "shorter than its header"), (b"\0" * 9000, "no magic"),
                                          (b"x" * 9000, "no magic")])
def test_a_file_that_is_no_ring_is_refused_with_its_name(tmp_path, content, why):
    p = tmp_path / "waitbench-prof-x-1.ring"
    p.write_bytes(content)
    with pytest.raises(ResultsError, match=why) as err:
        read_ring(p)
    assert str(p) in str(err.value)


def test_a_ring_of_another_format_is_refused(library, ring_dir, tmp_path):
    run_rank(library, ring_dir, 0, colls(1))
    path = ring_paths(ring_dir, "test")[0]
    raw = bytearray(path.read_bytes())
    raw[8:12] = (layout.FORMAT + 1).to_bytes(4, "little")
    other = tmp_path / path.name
    other.write_bytes(bytes(raw))
    with pytest.raises(ResultsError, match="this waitbench reads format 1"):
        read_ring(other)


def test_a_recording_replays_exactly_the_rings_it_kept(library, ring_dir, tmp_path):
    run_rank(library, ring_dir, 0, colls(3))
    run_rank(library, ring_dir, 1, colls(2), die=True)
    rings = load_sources([ring_dir], job="test")
    out = tmp_path / "rec.jsonl"
    assert write_recording(out, rings) == 5
    replayed = read_recording(out)
    assert [r.info() for r in replayed] == [r.info() for r in rings]
    assert [r.records for r in replayed] == [r.records for r in rings]
    assert [r.died for r in replayed] == [False, True]
    # A torn last line (a collect killed mid-write) loses that line only.
    out.write_bytes(out.read_bytes()[:-20])
    with pytest.warns(UserWarning, match="cut short"):
        assert sum(len(r.records) for r in read_recording(out)) == 4
    with pytest.warns(UserWarning, match="cut short"):
        assert load_sources([out])[1].pid == rings[1].pid


def test_checksums_match_the_plugins(library, ring_dir):
    run_rank(library, ring_dir, 0, colls(3))
    raw = np.frombuffer(ring_paths(ring_dir, "test")[0].read_bytes(), np.uint8)
    entries = raw[layout.ENTRIES_OFFSET:layout.ENTRIES_OFFSET + 3 * layout.ENTRY_BYTES].reshape(3, -1)
    assert (layout.checksums(entries) == entries.copy().view(layout.ENTRY).reshape(3)["checksum"]).all()


def test_the_report_notes_say_what_a_reader_of_the_figures_must_know(library, ring_dir, monkeypatch):
    from waitbench.profiler.render import ring_notes

    monkeypatch.setenv("WAITBENCH_PROFILER_ENTRIES", "16")
    run_rank(library, ring_dir, 0, colls(20), die=True)
    (ring,) = load_sources([ring_dir], job="test")
    notes = ring_notes([ring])
    assert len(notes) == 2
    assert "the process is gone with 1 communicator(s) live (it died)" in notes[0]
    assert "4 entries overwritten before they were read" in notes[1]


def test_a_live_entry_being_written_is_left_to_the_next_read_not_counted_torn(make_host, ring_dir):
    host = make_host()
    comm = host.init(0x51, rank=0, n_ranks=2)
    for i in range(3):
        comm.collective(Collective("AllReduce", [10 + i], [20 + i]))
    path = ring_paths(ring_dir, "test")[0]
    at = layout.ENTRIES_OFFSET + 1 * layout.ENTRY_BYTES  # ticket 1, as its writer leaves it between claim and end

    def seq(value: int) -> None:
        with open(path, "r+b") as fh:
            fh.seek(at)
            fh.write(value.to_bytes(8, "little"))

    seq(2 * 1 + 1)
    first = read_ring(path)
    assert first.alive is True
    assert [r["seq_number"] for r in first.records] == [0] and first.torn == 0 and first.next_ticket == 1
    seq(2 * 1 + 2)  # the writer finished
    second = read_ring(path, since=first.next_ticket)
    assert [r["seq_number"] for r in second.records] == [1, 2] and second.torn == 0 and second.next_ticket == 3
