# SPDX-License-Identifier: Apache-2.0
"""Reading profiler rings: live ones in /dev/shm, rings of processes that died, and copies on other machines.

Why reading is careful: the writer never waits for the reader, so while a ring is read its newest entries may
be half-written, the oldest overwritten, and a process that died mid-write leaves a torn entry for good. An
entry is kept only when its sequence word names the ticket the reader expects for that position and its
checksum matches; the head is read before and after the copy, so an entry overwritten during the read is
counted lost, not returned. A writer claims its ticket (the head) before it writes the entry, so in a live ring
the newest entries may be mid-write: the read stops at the first of those, and the next read starts there.
Nothing here writes to the ring.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np

from ..errors import ResultsError
from . import layout
from .records import RingSnapshot, coll_records, ring_text

# How far behind the head an entry of a live writer may still be mid-write: each of its threads writes one
# entry at a time (the application's and NCCL's proxy thread), so an odd sequence word further back is torn.
IN_FLIGHT_MAX = 64


def ring_paths(directory: str | os.PathLike[str] = "/dev/shm", job: str | None = None) -> list[Path]:
    """The ring files in ``directory`` (of one job when ``job`` is given), sorted by name."""
    prefix = layout.FILE_PREFIX + (f"{job}-" if job is not None else "")
    d = Path(directory)
    if not d.is_dir():
        raise ResultsError(f"{d}: no such directory")
    return sorted(p for p in d.iterdir() if p.name.startswith(prefix) and p.name.endswith(layout.FILE_SUFFIX)
                  and p.is_file())


def _start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return int(fields[19]) if len(fields) > 19 and fields[0] not in ("Z", "X") else None


def _alive(host: str, pid: int, start_ticks: int) -> bool | None:
    """Whether the writer runs: None when the ring was written on another host (its pids are not ours)."""
    if host != socket.gethostname():
        return None
    return _start_ticks(pid) == start_ticks


def _header(raw: bytes, path: Path) -> np.void:
    if len(raw) < layout.ENTRIES_OFFSET:
        raise ResultsError(f"{path}: not a waitbench profiler ring ({len(raw)} bytes, shorter than its header)")
    h = np.frombuffer(raw, layout.HEADER, count=1)[0]
    if int(h["magic"]) != layout.MAGIC:
        raise ResultsError(f"{path}: not a waitbench profiler ring (no magic; a ring still being created?)")
    if int(h["format"]) != layout.FORMAT or int(h["entry_bytes"]) != layout.ENTRY_BYTES:
        raise ResultsError(f"{path}: ring format {int(h['format'])} with {int(h['entry_bytes'])}-byte entries; this "
                           f"waitbench reads format {layout.FORMAT} ({layout.ENTRY_BYTES}-byte entries)")
    if not 1 <= int(h["capacity"]) <= layout.MAX_ENTRIES:
        raise ResultsError(f"{path}: ring capacity {int(h['capacity'])} out of range 1 .. {layout.MAX_ENTRIES}")
    return h


def _valid(raw_entries: np.ndarray, capacity: int, head: int, head_after: int,
           since: int, live: bool) -> tuple[np.ndarray, int, int]:
    """(whole current entries of ticket >= since, how many such tickets are not, where the next read starts).

    ``live``: the writer runs, so an entry among the newest with its sequence word odd is being written: it
    and every later ticket are left to the next read, neither returned nor counted torn.
    """
    n = len(raw_entries)
    entries = raw_entries.view(layout.ENTRY).reshape(n)
    index = np.arange(n, dtype=np.int64)
    # The newest ticket below `head` that maps to each position; positions never written get -1.
    ticket = np.where(index < head, index + capacity * ((head - 1 - index) // capacity), -1)
    low = max(0, head_after - capacity, since)  # tickets below this were (or are being) overwritten, or were read
    window = ticket >= low
    whole = entries["seq"] == (2 * ticket + 2).astype(np.uint64)
    summed = layout.checksums(raw_entries) == entries["checksum"]
    ok = window & whole & summed
    next_ticket = head
    if live:
        writing = window & (entries["seq"] == (2 * ticket + 1).astype(np.uint64)) & (ticket >= head - IN_FLIGHT_MAX)
        if writing.any():
            next_ticket = int(ticket[writing].min())
            window &= ticket < next_ticket
            ok &= window
    return ok, int(np.count_nonzero(window & ~ok)), next_ticket


def read_ring(path: str | os.PathLike[str], since: int = 0) -> RingSnapshot:
    """The ring at ``path`` as it is now: its entries from ticket ``since`` on (0: all it still holds).

    Raises ResultsError for a file that is no ring of this format. A file shorter than its header says (a
    partial copy) is read as far as it goes and marked ``truncated``.
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            raw = fh.read()
            h = _header(raw, p)
            fh.seek(layout.HEADER.fields["head"][1])
            head_after = int.from_bytes(fh.read(8), "little")  # entries past the first read's head: lost or new
    except OSError as exc:
        raise ResultsError(f"{p}: cannot read it ({exc.strerror or exc})") from None
    capacity, head = int(h["capacity"]), int(h["head"])
    body = raw[layout.ENTRIES_OFFSET:layout.ENTRIES_OFFSET + capacity * layout.ENTRY_BYTES]
    n = len(body) // layout.ENTRY_BYTES
    raw_entries = np.frombuffer(body[:n * layout.ENTRY_BYTES], np.uint8).reshape(n, layout.ENTRY_BYTES)
    head_after = max(head, head_after)
    host, pid = ring_text(bytes(h["host"])), int(h["pid"])
    alive = _alive(host, pid, int(h["proc_start_ticks"]))
    ok, torn, next_ticket = _valid(raw_entries, capacity, head, head_after, since, live=alive is True)
    entries = raw_entries.view(layout.ENTRY).reshape(n)
    kept = entries[ok][np.argsort(entries["seq"][ok], kind="stable")]
    comms_n = min(int(h["n_comms"]), layout.MAX_COMMS)
    comms = np.frombuffer(raw, layout.COMM, count=comms_n, offset=layout.HEADER_BYTES)
    return RingSnapshot(
        path=str(p), host=host, job=ring_text(bytes(h["job"])), pid=pid, capacity=capacity, written=head,
        lost=max(0, head_after - capacity - since), torn=torn, truncated=n < capacity,
        dropped_pool_full=int(h["dropped_pool_full"]), orphan_channels=int(h["orphan_channels"]),
        incomplete=int(h["incomplete"]), comms_live=int(h["comms_live"]), comms_untracked=int(h["comms_untracked"]),
        alive=alive, activation_mask=int(h["activation_mask"]),
        created_realtime_ns=int(h["created_realtime_ns"]), created_monotonic_ns=int(h["created_monotonic_ns"]),
        comms=[{"comm_id": f"0x{int(c['comm_id']):016x}", "name": ring_text(bytes(c["name"])), "rank": int(c["rank"]),
                "n_ranks": int(c["n_ranks"]), "n_nodes": int(c["n_nodes"]), "abi_version": int(c["abi_version"])}
               for c in comms],
        records=coll_records(kept, host, pid), next_ticket=next_ticket)
