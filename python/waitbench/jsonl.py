# SPDX-License-Identifier: Apache-2.0
"""JSON Lines files written as a run goes and read back whatever happened to them.

Why one module for results and telemetry recordings alike: both are appended line by line while a
measurement runs, so both can end in a torn line (a run killed mid-write), be appended to again
afterwards, be handed a file that is not theirs, or be larger than memory. Here, once:

- :class:`Appender` opens its file at the first line (a run that fails before measuring anything
  leaves no empty file or folder), starts a new line when the file does not end with one (so a torn
  line never swallows the next record), refuses a file that is not of its kind, and flushes and
  fsyncs every line (an interrupted run keeps everything it finished).
- :func:`read` streams a file line by line, skips every malformed line wherever it is, and says so
  in one warning naming the file and the lines; a file with no good line at all is an error that
  names the file and what is wrong with it.
- :func:`loads` is the one JSON parser of everything read from a file or another process. A line
  nested thousands deep (the parser would exhaust the stack), NaN and Infinity (no JSON number; a
  measurement is a finite number or null), a number beyond a float or an int beyond 64 bits (later
  arithmetic overflows) and a lone UTF-16 surrogate (no text: printing it fails) are refused with
  ValueError, so a reader skips such a line like any malformed one instead of tracing back later.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from . import checks
from .errors import MalformedLinesWarning, ResultsError, invalid

T = TypeVar("T")
MAX_LINE_BYTES = 64 << 20  # far above any record or window; a longer "line" is a binary file
SHOWN_LINES = 8  # line numbers named in a warning; the count says how many more
MAX_DEPTH = 64  # nesting of arrays and objects: records and windows nest 4 deep
INT_LIMIT = 1 << 63  # integers in [-2**63, 2**63): what a C int64, numpy and every other JSON reader hold
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")  # a \uD800..\uDFFF escape: maybe a lone surrogate
_BOM = b"\xef\xbb\xbf"


class NotOurs(ValueError):
    """A line that is well-formed JSON but not of this file kind (a whole file of them is the wrong file)."""


def json_kind(obj: Any) -> str:
    """What a parsed JSON value is, in JSON's words (for messages about lines that are not objects)."""
    return {list: "array", str: "string", bool: "boolean", type(None): "null", dict: "object"}.get(type(obj), "number")


def json_default(obj: Any) -> Any:
    """``json.dumps(default=...)`` for numpy scalars and arrays (records and recordings alike)."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def dumps(obj: Any) -> bytes:
    """One compact JSON line, newline included; ValueError for NaN or an infinity (no JSON number: unreadable)."""
    try:
        text = json.dumps(obj, default=json_default, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise ValueError("cannot write NaN or an infinity as JSON (a value that was not measured is None)") from None
    return (text + "\n").encode("utf-8")


class _Refused(ValueError):
    """A JSON value the parser read but a reader must not keep (its message says why)."""


def _no_constant(name: str) -> Any:
    raise _Refused(f"holds {name}, which is no JSON number (a measurement is a finite number or null)")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Refused(f"holds the number {text[:20]}{'...' if len(text) > 20 else ''}, beyond a float's range")
    return value


def _bounded_int(text: str) -> int:
    if len(text) < 19:  # fewer digits than 2**63 has: always in range
        return int(text)
    value = int(text) if len(text) <= 20 else INT_LIMIT  # 20 characters hold any int64; longer ones are not
    if not -INT_LIMIT <= value < INT_LIMIT:
        raise _Refused(f"holds the integer {text[:20]}{'...' if len(text) > 20 else ''}, beyond 64 bits")
    return value


def _deeper_than(obj: Any, limit: int) -> bool:
    """True if ``obj`` nests arrays and objects more than ``limit`` deep (walked level by level, no recursion)."""
    level = [obj] if type(obj) in (dict, list) else []  # the parser makes plain dicts and lists only
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [c for item in level for c in (item.values() if type(item) is dict else item)
                 if type(c) is list or type(c) is dict]
    return False


def loads(text: str | bytes) -> Any:
    """The JSON value of ``text``, or ValueError saying what is wrong with it (see the module docstring).

    Every JSON read from a file or another process goes through here (lines of results and
    recordings, caches, payloads of other processes).
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("not UTF-8 text (a binary or latin-1 file?)") from None
    too_deep = ValueError(f"nested deeper than {MAX_DEPTH} levels (not a waitbench file)")
    try:
        obj = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except RecursionError:  # the parser's own stack, before MAX_DEPTH could be checked
        raise too_deep from None
    if text.count("[") + text.count("{") > MAX_DEPTH and _deeper_than(obj, MAX_DEPTH):
        raise too_deep
    if _SURROGATE.search(text):
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("holds a lone UTF-16 surrogate (\\ud800..\\udfff), which is no text") from None
    return obj


def _cannot(path: Path, exc: OSError) -> ResultsError:
    return ResultsError(f"{path}: cannot read it ({exc.strerror or exc})")


def _raw_lines(fh: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) per line; None for a line longer than MAX_LINE_BYTES (its rest is skipped)."""
    lineno = 0
    while True:
        raw = fh.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > MAX_LINE_BYTES:
            while raw and not raw.endswith(b"\n"):
                raw = fh.readline(MAX_LINE_BYTES)
            yield lineno, None
            continue
        yield lineno, raw


def _parse(lineno: int, raw: bytes | None) -> Any:
    """The JSON value of one line; ValueError saying what is wrong with it."""
    if raw is None:
        raise ValueError(f"longer than {MAX_LINE_BYTES:,} bytes (a binary file?)")
    if lineno == 1 and raw.startswith(_BOM):
        raw = raw[len(_BOM):]  # a UTF-8 byte order mark (Windows editors write one)
    try:
        return loads(raw.rstrip(b"\r\n"))
    except json.JSONDecodeError as exc:
        cut = not raw.endswith(b"\n")
        raise ValueError("cut short (an interrupted write?)" if cut else f"not JSON ({exc.msg})") from None


def open_for_reading(path: str | os.PathLike[str], what: str) -> IO[bytes]:
    """``path`` opened in binary mode; ResultsError naming it when it is missing, a folder or unreadable."""
    p = Path(checks.path("path", path))
    if p.is_dir():
        raise ResultsError(f"{p}: is a directory, not a {what}")
    if not p.exists():
        raise ResultsError(f"{p}: no such file")
    if not p.is_file():
        raise ResultsError(f"{p}: not a regular file (a {what} is a JSON Lines file)")
    try:
        return open(p, "rb")
    except OSError as exc:
        raise _cannot(p, exc) from None


def read(path: str | os.PathLike[str], what: str, check: Callable[[Any], T]) -> Iterator[T]:
    """Stream the items of a JSON Lines file: ``check(parsed line)`` for each non-blank line.

    ``check`` returns the item or raises ValueError (the line is malformed: skipped and counted) or
    ResultsError (the whole file is refused). At the end, skipped lines are named in one
    :class:`~waitbench.errors.MalformedLinesWarning`; if no line was good, ResultsError names the
    file and what is wrong with its first line instead (``what`` names the file kind).
    """
    p = Path(path)
    bad: list[tuple[int, str]] = []  # the first SHOWN_LINES of them: a file of garbage stays small in memory
    n_bad = foreign = good = 0
    with open_for_reading(p, what) as fh:
        try:
            for lineno, raw in _raw_lines(fh):
                if raw is not None and not raw.strip():
                    continue
                try:
                    item = check(_parse(lineno, raw))
                except ValueError as exc:  # NotOurs too: a JSON object of another kind
                    foreign += isinstance(exc, NotOurs)
                    n_bad += 1
                    if len(bad) < SHOWN_LINES:
                        bad.append((lineno, str(exc)))
                    continue
                good += 1
                yield item
        except OSError as exc:
            raise _cannot(p, exc) from None
    if bad and not good:
        first, why = bad[0]
        raise ResultsError(f"{p}: not a {'' if foreign else 'readable '}{what}: line {first}: {why}")
    if bad:
        warnings.warn(MalformedLinesWarning(skipped_message(p, bad, n_bad)), stacklevel=2)


def skipped_message(path: Path, bad: list[tuple[int, str]], count: int) -> str:
    """One line: how many lines of ``path`` were skipped, the first of them, and why the first one was."""
    numbers = ", ".join(str(n) for n, _ in bad) + (", ..." if count > len(bad) else "")
    first, why = bad[0]
    plural = "s" if count > 1 else ""
    return f"{path}: skipped {count} malformed line{plural} ({numbers}); line {first}: {why}"


def _first_line(path: Path) -> bytes:
    """The first line of ``path``, as much of it as a reader reads (a first record of any size a reader keeps)."""
    with open(path, "rb") as fh:
        return fh.readline(MAX_LINE_BYTES + 1)


def check_output(path: Any, argument: str, what: str, marker: str) -> Path:
    """``path`` as a file to append ``what`` lines to, checked without creating anything.

    It must be a non-empty path; an existing file must be a regular, writable file that is empty or
    whose first line is a JSON object with ``marker`` (appending records to a file of another kind
    would spoil it); a new file's nearest existing folder must be a writable folder.
    """
    p = Path(checks.path(argument, path))
    if p.is_dir():
        raise invalid(argument, str(path), f"a file, not a directory (a {what} to append to)")
    if p.exists():
        if not p.is_file():
            raise invalid(argument, str(path), f"a regular file (a {what} to append to)")
        if not os.access(p, os.W_OK):
            raise invalid(argument, str(path), "a file this process may write")
        try:
            first = _first_line(p)
        except OSError as exc:
            raise invalid(argument, str(path), f"a readable {what} ({exc.strerror or exc})") from None
        if first.strip() and not _has_marker(first, marker):
            raise invalid(argument, str(path), f"a new file or a {what} to append to (this file holds something "
                          "else; pick another name)")
        return p
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise invalid(argument, str(path), f"a path whose folder can be created ({parent} is not a folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise invalid(argument, str(path), f"a path in a folder this process may write ({parent} is not)")
    return p


def _has_marker(first: bytes, marker: str) -> bool:
    try:
        obj = _parse(1, first if first.endswith(b"\n") else first + b"\n")
    except ValueError:
        return False
    return isinstance(obj, dict) and marker in obj


class Appender:
    """Appends JSON lines to one file: opened at the first line, each line written whole and fsynced.

    The file is unbuffered, so a failed write (a full disk) fails once, in :meth:`write_line`, and
    never again when the file is closed. A line that could not be written whole is cut off again, and
    a file (and folders) this writer created for a first line it could not write are removed: a full
    disk leaves what was written before, never a torn line or an empty file.
    """

    def __init__(self, path: Any, *, argument: str, what: str, marker: str, make_parents: bool = True) -> None:
        self.path = check_output(path, argument, what, marker)
        if not make_parents and not self.path.parent.is_dir():
            raise invalid(argument, str(path), "a file in an existing directory")
        self._what = what
        self._make_parents = make_parents
        self._fh: IO[bytes] | None = None
        self._created: list[Path] = []  # what opening the file created, deepest first (removed if nothing stays)
        self._lead = b""  # a newline owed to a torn last line, written with the first line
        self._closed = False

    def _open(self) -> IO[bytes]:
        missing = [d for d in (self.path.parent, *self.path.parent.parents) if not d.exists()]
        if self._make_parents:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._created = missing
        existed = self.path.exists()
        fh = open(self.path, "a+b", buffering=0)  # noqa: SIM115 - the writer keeps it open until close()
        self._created = ([] if existed else [self.path]) + missing
        try:
            end = fh.seek(0, os.SEEK_END)
            if end:
                fh.seek(end - 1)
                if fh.read(1) != b"\n":  # a torn last line: never glue the next line onto it
                    self._lead = b"\n"
        except BaseException:
            fh.close()
            raise
        return fh

    def write_line(self, obj: Any) -> None:
        """Append ``obj`` as one line, fsynced (the file is opened at the first line).

        OSError (a full disk, say) names the file; the file then holds what it held before the call.
        """
        if self._closed:
            raise ValueError(f"{self.path}: this writer is closed")
        data = dumps(obj)
        start = None
        try:
            if self._fh is None:
                self._fh = self._open()
            start = self._fh.seek(0, os.SEEK_END)
            _write_all(self._fh, self._lead + data)
            os.fsync(self._fh.fileno())
        except OSError as exc:
            self._undo(start)
            raise OSError(exc.errno, f"cannot write the {self._what} ({exc.strerror or exc}); the lines written "
                          "before are kept", str(self.path)) from None
        self._lead = b""
        self._created = []

    def _undo(self, start: int | None) -> None:
        """Cut a line that was not written whole; remove the file (and folders) if this writer made them for it."""
        with contextlib.suppress(OSError):
            if self._fh is not None and start is not None:
                self._fh.truncate(start)
        if self._created and (start is None or start == 0):
            if self._fh is not None:
                with contextlib.suppress(OSError):
                    self._fh.close()
                self._fh = None
            for p in self._created:
                with contextlib.suppress(OSError):
                    if p == self.path:
                        p.unlink()
                    else:
                        p.rmdir()
            self._created = []

    def close(self) -> None:
        """Close the file; later writes raise."""
        self._closed = True
        if self._fh is not None:
            fh, self._fh = self._fh, None
            fh.close()


def _write_all(fh: IO[bytes], data: bytes) -> None:
    """Write every byte of ``data`` to an unbuffered file (a write may take only part of it)."""
    view = memoryview(data)
    while view:
        n = fh.write(view)
        if not n:
            raise OSError(errno.EIO, "the file took no bytes")
        view = view[n:]
