# SPDX-License-Identifier: Apache-2.0
"""The binary layout of a profiler ring file, as numpy dtypes: the mirror of csrc/profiler/ring_layout.hpp.

Why numpy: a ring holds up to millions of fixed-size entries, and reading them as one structured array keeps a
replay of a large ring fast and the checksum check vectorised. The header says which format and entry size
wrote the file; a reader refuses any other rather than guess.
"""

from __future__ import annotations

import numpy as np

MAGIC = 0x31464F5250425757  # "WWBPROF1" little-endian
FORMAT = 1
MAX_COMMS = 64
MAX_ENTRIES = 1 << 24
HEADER_BYTES = 256
COMM_BYTES = 64
ENTRY_BYTES = 160
ENTRIES_OFFSET = HEADER_BYTES + MAX_COMMS * COMM_BYTES
FILE_PREFIX = "waitbench-prof-"
FILE_SUFFIX = ".ring"

# Entry flags (kFlag* in ring_layout.hpp).
FLAG_GRAPH_CAPTURED = 1
FLAG_INCOMPLETE = 2
FLAG_NO_KERNEL_CH = 4

HEADER = np.dtype([
    ("magic", "<u8"), ("format", "<u4"), ("entry_bytes", "<u4"), ("capacity", "<u8"), ("head", "<u8"),
    ("pid", "<u4"), ("activation_mask", "<u4"), ("proc_start_ticks", "<u8"), ("created_realtime_ns", "<i8"),
    ("created_monotonic_ns", "<i8"), ("dropped_pool_full", "<u8"), ("orphan_channels", "<u8"),
    ("incomplete", "<u8"), ("n_comms", "<u4"), ("comms_untracked", "<u4"), ("comms_live", "<u4"),
    ("reserved0", "<u4"), ("job", "S64"), ("host", "S64"), ("reserved", "V24"),
])

COMM = np.dtype([
    ("comm_id", "<u8"), ("rank", "<i4"), ("n_ranks", "<i4"), ("n_nodes", "<i4"), ("abi_version", "<i4"),
    ("name", "S40"),
])

ENTRY = np.dtype([
    ("seq", "<u8"), ("checksum", "<u8"), ("comm_id", "<u8"), ("seq_number", "<u8"), ("count", "<u8"),
    ("user_tag", "<u8"), ("enqueue_ns", "<i8"), ("coll_start_ns", "<i8"), ("done_ns", "<i8"),
    ("gpu_start_first_ns", "<u8"), ("gpu_start_last_ns", "<u8"), ("gpu_stop_first_ns", "<u8"),
    ("gpu_stop_last_ns", "<u8"), ("rank", "<i4"), ("n_ranks", "<i4"), ("channels", "u1"), ("channels_seen", "u1"),
    ("elem_bytes", "u1"), ("flags", "u1"), ("n_warps", "u1"), ("reserved", "V3"), ("func", "S16"),
    ("algo", "S16"), ("proto", "S8"),
])

assert HEADER.itemsize == HEADER_BYTES and COMM.itemsize == COMM_BYTES and ENTRY.itemsize == ENTRY_BYTES
assert HEADER.fields["job"][1] == 104 and ENTRY.fields["func"][1] == 120

_WEIGHTS = (2 * np.arange(2, ENTRY_BYTES // 8, dtype=np.uint64) + 1).astype(np.uint64)


def checksums(raw: np.ndarray) -> np.ndarray:
    """The checksum each entry of ``raw`` (a uint8 array of shape (n, ENTRY_BYTES)) should carry.

    The same sum as ring_checksum() in ring_layout.hpp: word_i * (2i + 1) over the 8-byte words 2..19,
    modulo 2^64 (numpy's uint64 arithmetic wraps).
    """
    words = np.ascontiguousarray(raw).view("<u8").reshape(len(raw), ENTRY_BYTES // 8)[:, 2:]
    with np.errstate(over="ignore"):
        return (words * _WEIGHTS).sum(axis=1, dtype=np.uint64)
