# SPDX-License-Identifier: Apache-2.0
"""Bring every rank's record to one place and write them as one JSON Lines file.

Why through the store and not a collective: the store outlives the process groups (which are
destroyed after every mode, and may be broken after a failed one), it is shared by the spawning
parent and its children alike, and under torchrun it is the rendezvous store every rank already has.
A rank whose record never arrives is written as an 'error' record, so a file always holds
world_size records per mode.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from ..results import ResultsWriter, validate


def store_get(store: Any, key: str, timeout_s: float) -> str:
    """The value of ``key``, waiting up to ``timeout_s`` for another process to set it."""
    store.wait([key], timedelta(seconds=timeout_s))
    value = store.get(key)
    return value.decode() if isinstance(value, bytes) else str(value)


def record_key(rank: int) -> str:
    return f"record/{rank}"


def publish(store: Any, rank: int, record: dict[str, Any]) -> None:
    """Put this rank's record in the store (the mode's PrefixStore)."""
    validate(record)
    store.set(record_key(rank), json.dumps(record, separators=(",", ":")))


def collect(store: Any, world_size: int, *, timeout_s: float,
            missing: Callable[[int, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """Every rank's record, ordered by rank; ``missing(rank, why)`` stands in for a record that never
    came or could not be read (``why`` names the exception).

    Waits up to ``timeout_s`` in all for the records.
    """
    records: list[dict[str, Any]] = []
    for rank in range(world_size):
        try:
            store.wait([record_key(rank)], timedelta(seconds=max(timeout_s, 0.001)))
            raw = store.get(record_key(rank))
            rec = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            validate(rec)
        except Exception as exc:  # noqa: BLE001 - timed out, or a corrupt record: reported in the rank's record
            rec = missing(rank, f"{type(exc).__name__}: {exc}".splitlines()[0])
            timeout_s = 0.001  # the others had the same time to arrive; do not wait again
        records.append(rec)
    return records


def write(path: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> int:
    """Append records to the JSON Lines file at ``path`` (flushed per line); returns how many."""
    with ResultsWriter(path) as writer:
        for rec in records:
            writer.write(rec)
        return writer.count
