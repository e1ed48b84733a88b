# SPDX-License-Identifier: Apache-2.0
"""Bring every rank's record to one place and write them as one JSON Lines file.

Why through the store and not a collective: the store outlives the process groups (which are
destroyed after every mode, and may be broken after a failed one), it is shared by the spawning
parent and its children alike, and under torchrun it is the rendezvous store every rank already has.
Each rank publishes one payload: its records and the telemetry windows it kept for a recording. A
rank whose payload never arrives is written as an 'error' record, so every rank of a mode is accounted for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from .. import jsonl
from ..results import ResultsWriter, json_default, validate


def store_get(store: Any, key: str, timeout_s: float) -> str:
    """The value of ``key``, waiting up to ``timeout_s`` for another process to set it."""
    store.wait([key], timedelta(seconds=timeout_s))
    value = store.get(key)
    return value.decode() if isinstance(value, bytes) else str(value)


def payload_key(rank: int) -> str:
    """The store key under which ``rank`` leaves its records."""
    return f"payload/{rank}"


def publish(store: Any, rank: int, payload: dict[str, Any]) -> None:
    """Put this rank's payload (``{"records": [...], "windows": [...]}``) in the store (the mode's PrefixStore)."""
    for rec in payload["records"]:
        validate(rec)
    store.set(payload_key(rank), json.dumps(payload, separators=(",", ":"), default=json_default))


def collect(store: Any, world_size: int, *, timeout_s: float,
            missing: Callable[[int, str], dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every rank's records, ordered by rank, and the windows they kept.

    ``missing(rank, why)`` stands in for a rank whose payload never came or could not be read (``why``
    names the exception).

    Waits up to ``timeout_s`` in all for the payloads.
    """
    records: list[dict[str, Any]] = []
    windows: list[dict[str, Any]] = []
    for rank in range(world_size):
        try:
            store.wait([payload_key(rank)], timedelta(seconds=max(timeout_s, 0.001)))
            raw = store.get(payload_key(rank))
            payload = jsonl.loads(raw)
            for rec in payload["records"]:
                validate(rec)
            records.extend(payload["records"])
            windows.extend(dict(w, rank=rank) for w in payload.get("windows", []))
        except Exception as exc:  # noqa: BLE001 - timed out, or a corrupt payload: reported in the rank's record
            records.append(missing(rank, f"{type(exc).__name__}: {exc}".splitlines()[0]))
            timeout_s = 0.001  # the others had the same time to arrive; do not wait again
    return records, windows


def write(path: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> int:
    """Append records to the JSON Lines file at ``path`` (flushed per line); returns how many."""
    with ResultsWriter(path) as writer:
        for rec in records:
            writer.write(rec)
        return writer.count
