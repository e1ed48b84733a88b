# SPDX-License-Identifier: Apache-2.0
"""Profile recordings: the rings of a job kept in one JSON Lines file, to replay on any machine.

Why a file and not the rings themselves: rings live in /dev/shm (gone at reboot, one per process, binary), and
the question "who waited on whom" is often asked later and elsewhere. A recording holds, per ring, one
``ring`` line (its identity and counters) followed by one ``coll`` line per collective; every line carries
:data:`records.MARKER`. It is written with :class:`waitbench.jsonl.Appender` and read with
:func:`waitbench.jsonl.read`, so a torn last line is skipped and a file of another kind refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import jsonl
from ..errors import ResultsError
from . import layout
from .records import MARKER, PROFILE_FORMAT_VERSION, RING_KEYS, RingSnapshot
from .ring import read_ring, ring_paths

WHAT = "waitbench profile recording"


def write_recording(path: str | os.PathLike[str], rings: Iterable[RingSnapshot]) -> int:
    """Append ``rings`` to the recording at ``path``; returns the collectives written."""
    out = jsonl.Appender(path, argument="out", what=WHAT, marker=MARKER)
    n = 0
    try:
        for ring in rings:
            out.write_line({MARKER: PROFILE_FORMAT_VERSION, "kind": "ring", **ring.info()})
            for rec in ring.records:
                out.write_line({MARKER: PROFILE_FORMAT_VERSION, "kind": "coll", "ring": ring.path, **rec})
                n += 1
    finally:
        out.close()
    return n


def _check(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict) or MARKER not in obj:
        raise jsonl.NotOurs("is no line of a profile recording")
    version = obj[MARKER]
    if not isinstance(version, int) or version > PROFILE_FORMAT_VERSION:
        raise ResultsError(f"{MARKER} {version!r}: this waitbench reads 1 to {PROFILE_FORMAT_VERSION}")
    if obj.get("kind") not in ("ring", "coll"):
        raise ValueError(f"kind={obj.get('kind')!r} is invalid: expected 'ring' or 'coll'")
    return obj


def read_recording(path: str | os.PathLike[str]) -> list[RingSnapshot]:
    """The ring snapshots of a recording, each with its collectives."""
    rings: dict[str, RingSnapshot] = {}
    for line in jsonl.read(path, WHAT, _check):
        if line["kind"] == "ring":
            try:
                ring = RingSnapshot(**{k: line[k] for k in RING_KEYS})
            except KeyError as exc:
                raise ResultsError(f"{path}: a ring line lacks {exc}") from None
            rings[ring.path] = ring
        elif line.get("ring") in rings:
            rings[line["ring"]].records.append({k: v for k, v in line.items() if k not in (MARKER, "kind", "ring")})
    if not rings:
        raise ResultsError(f"{path}: no ring in this recording")
    return list(rings.values())


def _is_ring_file(p: Path) -> bool:
    with open(p, "rb") as fh:
        return int.from_bytes(fh.read(8), "little") == layout.MAGIC


def load_sources(paths: Iterable[str | os.PathLike[str]], job: str | None = None) -> list[RingSnapshot]:
    """Ring snapshots from ring files, folders of rings (of ``job`` when given) and recordings."""
    out: list[RingSnapshot] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = ring_paths(p, job)
            if not found:
                raise ResultsError(f"{p}: no profiler rings here" + (f" of job {job}" if job else ""))
            out.extend(read_ring(f) for f in found)
        elif not p.is_file():
            raise ResultsError(f"{p}: no such file or directory")
        elif _is_ring_file(p):
            out.append(read_ring(p))
        else:
            out.extend(read_recording(p))
    return out
