# SPDX-License-Identifier: Apache-2.0
"""Recorded telemetry windows as JSON Lines: written by diagnose and a benchmark, read by replays and tests.

Written by ``diagnose --record`` and ``benchmarks/record_telemetry.py``, read by ``diagnose --replay``
and the tests.

Why a format of its own (not results records): a window keeps its raw series and every null
reason, so a verdict can be recomputed later, on any machine, with other thresholds. Each line is
one JSON object with ``kind``: ``"window"`` (``summary``, plus optional ``scenario``, ``label``,
``expected_verdict``, ``baseline_scenario``), ``"instrument"`` (measured periods) or ``"note"``.
Writing and reading go through :mod:`waitbench.jsonl`: the file is created at the first line, a
torn line is never glued to the next, and malformed lines are skipped and named on read.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .. import jsonl
from ..errors import ResultsError
from ..jsonl import NotOurs
from .summary import WindowSummary
from .verdict import IDLE_POWER_RANGE_W

FORMAT_VERSION = 1
WHAT = "waitbench telemetry recording"


class RecordingWriter:
    """Appends lines to a recording, each flushed and fsynced (an interrupted session keeps its windows).

    ``path`` is checked at once (a non-empty path to a new file or to a recording, in an existing
    directory) and the file is created at the first line, so a session that fails before its first
    window (no NVML) leaves no empty file behind.
    """

    def __init__(self, path: str | os.PathLike[str], *, argument: str = "record") -> None:
        self._out = jsonl.Appender(path, argument=argument, what=WHAT, marker="format_version", make_parents=False)
        self.path = self._out.path

    def write(self, kind: str, **fields: Any) -> None:
        """Append one entry of ``kind`` with ``fields``."""
        self._out.write_line({"format_version": FORMAT_VERSION, "kind": kind, **fields})

    def window(self, summary: WindowSummary, **fields: Any) -> None:
        """Append one window summary (raw series included) with ``fields`` (label, refresh, ...)."""
        self.write("window", summary=summary.to_dict(), **fields)

    def close(self) -> None:
        """Close the recording."""
        self._out.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_line(obj: Any) -> dict[str, Any]:
    """One line of a recording, or ValueError/NotOurs saying why it is not one."""
    if not isinstance(obj, dict):
        raise NotOurs(f"is a JSON {jsonl.json_kind(obj)}, not a recording line object")
    if "format_version" not in obj:
        hint = " (a results file? show it with: waitbench report)" if "schema_version" in obj else ""
        raise NotOurs(f"has no format_version: not a waitbench telemetry recording line{hint}")
    if obj["format_version"] != FORMAT_VERSION:
        raise ResultsError(f"format_version {obj['format_version']!r}: this waitbench reads telemetry recordings "
                           f"of format {FORMAT_VERSION}")
    return obj


def read_lines(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Stream every line of a recording; malformed lines are skipped and named in one warning.

    ResultsError for a missing or unreadable file, a file with no recording line, or another format.
    """
    p = Path(path)

    def located(obj: Any) -> dict[str, Any]:
        try:
            return check_line(obj)
        except ResultsError as exc:
            raise ResultsError(f"{p}: {exc}") from None

    yield from jsonl.read(p, WHAT, located)


# JSON types a summary field may hold, from its annotation (a window read back is judged as it is).
_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "list": (list,), "dict": (dict,)}


def _expected(annotation: str) -> tuple[tuple[type, ...], bool]:
    """(accepted JSON types, None allowed) of a WindowSummary field annotation such as 'float | None'."""
    parts = [a.strip() for a in str(annotation).split("|")]
    types: tuple[type, ...] = ()
    for part in parts:
        types += _TYPES.get(part.split("[")[0], ())
    return types, "None" in parts


def _check_summary(data: Any) -> None:
    if not isinstance(data, dict):
        raise ValueError("a window line's summary is not an object")
    for f in dataclasses.fields(WindowSummary):
        if f.name not in data:
            continue
        types, nullable = _expected(f.type)
        v = data[f.name]
        if (v is None and not nullable) or (v is not None and types and
                                             (not isinstance(v, types) or isinstance(v, bool))):
            raise ValueError(f"a window line's summary has {f.name}={v!r}: expected {f.type}")
    for p in data.get("processes") or []:
        if not isinstance(p, dict) or not isinstance(p.get("pid"), int) or isinstance(p.get("pid"), bool):
            raise ValueError(f"a window line's summary lists a process without an int pid: {p!r}")


def _check_probe(probe: Any) -> None:
    """A probe reading as diagnose --probe records it (ProbeReading.to_dict), or ValueError."""
    if probe is None:
        return
    ok = (isinstance(probe, dict) and isinstance(probe.get("state"), str) and isinstance(probe.get("text", ""), str)
          and isinstance(probe.get("run") or {}, dict) and isinstance(probe.get("baseline") or {}, dict)
          and (probe.get("ratio") is None or (isinstance(probe["ratio"], (int, float))
                                              and not isinstance(probe["ratio"], bool))))
    if not ok:
        raise ValueError(f"a window line's probe is not a probe reading: {probe!r:.80}")


def _window(line: dict[str, Any]) -> tuple[WindowSummary, dict[str, Any]]:
    try:
        _check_probe(line.get("probe"))
        _check_summary(line.get("summary"))
        summary = WindowSummary.from_dict(line["summary"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"a window line is malformed ({exc})") from None
    return summary, {k: v for k, v in line.items() if k != "summary"}


def _baseline(line: dict[str, Any]) -> dict[str, Any]:
    """A ``baseline`` line, or ValueError: a warm-idle power no GPU reads would flip every verdict after it."""
    power, (lo, hi) = line.get("power_w"), IDLE_POWER_RANGE_W
    if not isinstance(line.get("uuid"), str) or not isinstance(power, (int, float)) or isinstance(power, bool) \
            or not lo <= power <= hi:
        raise ValueError(f"a baseline line needs a GPU uuid and a warm-idle power_w in [{lo:g}, {hi:g}] W, not "
                         f"uuid={line.get('uuid')!r:.60}, power_w={power!r:.30}")
    return line


def iter_entries(path: str | os.PathLike[str],
                 extra: Mapping[str, Callable[[dict[str, Any]], Any]] | None = None) -> Iterator[tuple[str, Any]]:
    """Stream a recording's windows and warm-idle baselines in file order, one line at a time.

    Each entry is ``("window", (summary, the line's other fields))`` or ``("baseline", line)`` (diagnose
    writes a GPU's baseline before the first window judged against it). ``extra`` maps other kinds of line
    to the reader of each (ValueError for a malformed line): those come as ``(kind, what it returned)``.

    A window line whose summary does not parse is skipped and counted like any malformed line;
    ResultsError when the recording holds no window at all.
    """
    p = Path(path)

    def entry_or_skip(obj: Any) -> tuple[str, Any] | None:
        try:
            line = check_line(obj)
        except ResultsError as exc:
            raise ResultsError(f"{p}: {exc}") from None
        if line.get("kind") == "window":
            return "window", _window(line)
        if line.get("kind") == "baseline":
            return "baseline", _baseline(line)
        if extra and line.get("kind") in extra:
            return line["kind"], extra[line["kind"]](line)
        return None

    found = False
    for item in jsonl.read(p, WHAT, entry_or_skip):
        if item is not None:
            found = found or item[0] == "window"
            yield item
    if not found:
        raise ResultsError(f"{p}: no telemetry windows")


def iter_windows(path: str | os.PathLike[str]) -> Iterator[tuple[WindowSummary, dict[str, Any]]]:
    """Stream the windows of a recording as (summary, the line's other fields) (see :func:`iter_entries`)."""
    for kind, item in iter_entries(path):
        if kind == "window":
            yield item


def read_windows(path: str | os.PathLike[str]) -> list[tuple[WindowSummary, dict[str, Any]]]:
    """The windows of a recording: (summary, the line's other fields); ResultsError if there are none."""
    return list(iter_windows(path))
