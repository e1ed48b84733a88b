# SPDX-License-Identifier: Apache-2.0
"""Recorded telemetry windows as JSON Lines: written by ``diagnose --record`` and
``benchmarks/record_telemetry.py``, read by ``diagnose --replay`` and the tests.

Why a format of its own (not results records): a window keeps its raw series and every null
reason, so a verdict can be recomputed later, on any machine, with other thresholds. Each line is
one JSON object with ``kind``: ``"window"`` (``summary``, plus optional ``scenario``, ``label``,
``expected_verdict``, ``baseline_scenario``), ``"instrument"`` (measured periods) or ``"note"``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any, Iterator

from ..errors import ResultsError, invalid
from ..results import iter_json_lines, json_default
from .summary import WindowSummary

FORMAT_VERSION = 1


class RecordingWriter:
    """Appends lines to a recording and flushes each one (an interrupted session keeps its windows)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            raise invalid("record", str(path), "a file in an existing directory")
        self._fh: IO[str] | None = open(self.path, "a", encoding="utf-8")

    def write(self, kind: str, **fields: Any) -> None:
        assert self._fh is not None, "RecordingWriter is closed"
        line = {"format_version": FORMAT_VERSION, "kind": kind, **fields}
        self._fh.write(json.dumps(line, separators=(",", ":"), default=json_default) + "\n")
        self._fh.flush()

    def window(self, summary: WindowSummary, **fields: Any) -> None:
        self.write("window", summary=summary.to_dict(), **fields)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_lines(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Every line of a recording; ResultsError for a missing file or a corrupt line (a torn last line is skipped)."""
    for lineno, line in iter_json_lines(path, "recording"):
        if not isinstance(line, dict) or line.get("format_version") != FORMAT_VERSION:
            raise ResultsError(f"{Path(path)}:{lineno}: not a waitbench telemetry recording of format {FORMAT_VERSION}")
        yield line


def read_windows(path: str | os.PathLike[str]) -> list[tuple[WindowSummary, dict[str, Any]]]:
    """The windows of a recording: (summary, the line's other fields); ResultsError if there are none."""
    out = []
    for line in read_lines(path):
        if line.get("kind") == "window":
            try:
                summary = WindowSummary.from_dict(line["summary"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ResultsError(f"{path}: a window line is malformed ({exc})") from None
            out.append((summary, {k: v for k, v in line.items() if k != "summary"}))
    if not out:
        raise ResultsError(f"{path}: no telemetry windows")
    return out
