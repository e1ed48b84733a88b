# SPDX-License-Identifier: Apache-2.0
"""What the profiler records, in waitbench's conventions: flat dicts whose keys carry their units.

Why a schema of its own and not a field of :mod:`waitbench.results`: a results record is one measurement
of a wait strategy; a profile record is one collective on one rank of someone else's job, thousands a
second. They share the conventions (fixed keys, ``None`` for what was not seen, ``_ns``/``_s`` units in
names, JSON Lines) but not the fields. :data:`COLL_KEYS` and :data:`RING_KEYS` are the one list of keys
(docs/PROFILER.md explains each); a ring snapshot is the record of one process's ring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..inert import inert
from . import layout

PROFILE_FORMAT_VERSION = 1
MARKER = "profile_format_version"  # the key every line of a recording carries

COLL_KEYS: dict[str, str] = {
    "host": "host name of the rank's machine (from its ring)",
    "pid": "process id of the rank",
    "comm_id": "NCCL's communicator hash, as 0x-prefixed hex (the same on every rank of the communicator)",
    "rank": "rank in the communicator",
    "n_ranks": "ranks in the communicator",
    "seq_number": "NCCL's per-function sequence number in the communicator (the n-th AllReduce, ...)",
    "func": "collective: AllReduce, Broadcast, AllGather, ReduceScatter, Reduce, ...",
    "count": "elements, as NCCL's Coll event gives them (bytes for AllGather and Broadcast)",
    "elem_bytes": "bytes of one element (None: datatype unknown to this plugin)",
    "bytes": "count * elem_bytes",
    "algo": "NCCL algorithm: RING, TREE, NVLS, PAT, ...",
    "proto": "NCCL protocol: LL, LL128, SIMPLE",
    "channels": "channels NCCL gave the collective",
    "channels_seen": "channels whose kernel start and stop both reached the plugin",
    "n_warps": "warps per channel block",
    "user_tag": "NCCL 2.31's per-call profiler tag (None untagged or older NCCL)",
    "graph_captured": "launched from a CUDA graph (its enqueue time is unknown)",
    "complete": "every expected channel stopped (False: written at finalize, still in flight)",
    "enqueue_ns": "host CLOCK_MONOTONIC at the application's call (None: unknown)",
    "coll_start_ns": "host CLOCK_MONOTONIC when NCCL handed the collective to its proxy",
    "done_ns": "host CLOCK_MONOTONIC when the last channel's stop reached the plugin",
    "gpu_start_ns": "GPU %globaltimer at the earliest channel's work start: the rank's arrival",
    "gpu_start_last_ns": "GPU %globaltimer at the latest channel's work start",
    "gpu_stop_first_ns": "GPU %globaltimer at the earliest channel's work end",
    "gpu_stop_ns": "GPU %globaltimer at the latest channel's work end: the rank's completion",
    "kernel_ns": "gpu_stop_ns - gpu_start_ns: the rank's time inside the collective's kernel (its own clock)",
}

RING_KEYS: dict[str, str] = {
    "path": "where the ring was read",
    "host": "host name of the process that wrote it",
    "job": "job id (WAITBENCH_PROFILER_JOB)",
    "pid": "process id of the writer",
    "capacity": "entries the ring holds",
    "written": "entries ever written (the ring keeps the last `capacity`)",
    "lost": "entries overwritten before they were read (the ring was full)",
    "torn": "entries found half-written (a writer that died mid-write) or failing their checksum",
    "truncated": "the file is shorter than its header says (a partial copy)",
    "dropped_pool_full": "collectives not recorded: too many in flight on one communicator",
    "orphan_channels": "kernel-channel events with no collective of ours as parent",
    "incomplete": "entries written at finalize before every channel stopped",
    "comms_live": "communicators initialised and not finalised when read (> 0 after exit: the process died)",
    "comms_untracked": "communicators beyond the header's table of 64",
    "alive": "whether the writer still runs (None: read on another host, or a copy)",
    "activation_mask": "NCCL event mask the plugin set",
    "created_realtime_ns": "CLOCK_REALTIME when the ring was made",
    "created_monotonic_ns": "CLOCK_MONOTONIC at the same moment (converts the host times of records)",
    "comms": "communicators: comm_id, name, rank, n_ranks, n_nodes, abi_version (5, 6 or 7)",
    "next_ticket": "the first entry a later read should look at",
}


def ring_text(raw: bytes) -> str:
    """Text from a ring (another process wrote it), shown inert: bytes that are not UTF-8 as escapes too."""
    return inert(raw.rstrip(b"\0").decode("utf-8", "backslashreplace"))


def coll_records(entries: np.ndarray, host: str, pid: int) -> list[dict[str, Any]]:
    """Profile records of the valid entries of one ring (a structured array of :data:`layout.ENTRY`).

    Column by column (``tolist`` once per field): a ring holds up to millions of entries.
    """
    c = {name: entries[name].tolist() for name in entries.dtype.names if name not in ("seq", "checksum", "reserved")}
    names: dict[bytes, str] = {}  # a few distinct strings, escaped once each

    def text(raw: bytes) -> str:
        if raw not in names:
            names[raw] = ring_text(raw)
        return names[raw]

    out = []
    for i in range(len(entries)):
        start, stop = c["gpu_start_first_ns"][i], c["gpu_stop_last_ns"][i]
        elem, flags = c["elem_bytes"][i], c["flags"][i]
        out.append({
            "host": host, "pid": pid, "comm_id": f"0x{c['comm_id'][i]:016x}", "rank": c["rank"][i],
            "n_ranks": c["n_ranks"][i], "seq_number": c["seq_number"][i], "func": text(c["func"][i]),
            "count": c["count"][i], "elem_bytes": elem or None, "bytes": c["count"][i] * elem if elem else None,
            "algo": text(c["algo"][i]), "proto": text(c["proto"][i]), "channels": c["channels"][i],
            "channels_seen": c["channels_seen"][i], "n_warps": c["n_warps"][i], "user_tag": c["user_tag"][i] or None,
            "graph_captured": bool(flags & layout.FLAG_GRAPH_CAPTURED),
            "complete": not flags & layout.FLAG_INCOMPLETE,
            "enqueue_ns": c["enqueue_ns"][i] or None, "coll_start_ns": c["coll_start_ns"][i] or None,
            "done_ns": c["done_ns"][i] or None, "gpu_start_ns": start or None,
            "gpu_start_last_ns": c["gpu_start_last_ns"][i] or None,
            "gpu_stop_first_ns": c["gpu_stop_first_ns"][i] or None, "gpu_stop_ns": stop or None,
            "kernel_ns": stop - start if start and stop >= start else None,
        })
    return out


@dataclass
class RingSnapshot:
    """One process's ring as read at one moment: its identity, its counters, its communicators, its records."""

    path: str
    host: str
    job: str
    pid: int
    capacity: int
    written: int
    lost: int
    torn: int
    truncated: bool
    dropped_pool_full: int
    orphan_channels: int
    incomplete: int
    comms_live: int
    comms_untracked: int
    alive: bool | None
    activation_mask: int
    created_realtime_ns: int
    created_monotonic_ns: int
    comms: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    next_ticket: int = 0

    def info(self) -> dict[str, Any]:
        """The snapshot without its records: the keys of :data:`RING_KEYS`."""
        return {k: getattr(self, k) for k in RING_KEYS}

    @property
    def died(self) -> bool:
        """The writer is gone while communicators were still live (it crashed or was killed)."""
        return self.alive is False and self.comms_live > 0
