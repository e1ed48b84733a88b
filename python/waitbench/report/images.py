# SPDX-License-Identifier: Apache-2.0
"""Where a chart may be written, and writing it in the format its file name says.

Why a module of its own: ``report --plot victim.jsonl`` once replaced a results file with a PNG, and
``--plot x.jpg`` wrote PNG bytes under a JPEG name. So, before anything is drawn: a chart never
goes over a file the report reads; an existing file is replaced only when it already is an image
of the format its suffix names (``--force`` replaces any other file, never an input); the suffix
picks the format and an unknown suffix is refused. A chart is rendered in memory and then moved
into place, so a failure never leaves half an image.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import checks
from ..errors import invalid

# Suffix -> (matplotlib format, magic bytes that begin such a file). Only formats people open as images.
FORMATS: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".png": ("png", (b"\x89PNG\r\n\x1a\n",)),
    ".svg": ("svg", (b"<?xml", b"<svg")),
    ".svgz": ("svgz", (b"\x1f\x8b",)),
    ".pdf": ("pdf", (b"%PDF-",)),
    ".jpg": ("jpg", (b"\xff\xd8\xff",)),
    ".jpeg": ("jpeg", (b"\xff\xd8\xff",)),
    ".eps": ("eps", (b"%!PS", b"\xc5\xd0\xd3\xc6")),
    ".ps": ("ps", (b"%!PS",)),
    ".tif": ("tif", (b"II*\x00", b"MM\x00*")),
    ".tiff": ("tiff", (b"II*\x00", b"MM\x00*")),
    ".webp": ("webp", (b"RIFF",)),
}
# Reproducible files: no software version or creation date in the bytes, where the format has them.
_METADATA = {"png": {"Software": None}, "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
             "svg": {"Creator": None, "Date": None}}


def format_of(path: Path, argument: str) -> str:
    """The matplotlib format the suffix of ``path`` names; ValueError for a suffix that names no image."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise invalid(argument, str(path), "a file name ending in " + ", ".join(FORMATS) + " (the suffix picks "
                      "the image format)")
    return fmt[0]


def is_image(path: Path) -> bool:
    """Whether ``path`` begins as an image of the format its suffix names (what may be replaced freely)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return False
    if fmt[0] == "webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    return head.lstrip().startswith(fmt[1])


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_target(path: Any, argument: str, inputs: Iterable[Path] = (), force: bool = False) -> Path:
    """``path`` as a chart file to write, checked without writing anything (ValueError naming ``argument``)."""
    p = Path(checks.path(argument, path))
    if p.is_dir():
        raise invalid(argument, str(path), "an image file name, not a directory (--plots-dir takes a folder)")
    format_of(p, argument)
    if p.exists():
        if not p.is_file():
            raise invalid(argument, str(path), "an image file name (this is not a regular file)")
        if any(_same_file(p, i) for i in inputs):
            raise invalid(argument, str(path), "a file the report does not read (it would be overwritten)")
        if not force and not is_image(p):
            raise invalid(argument, str(path), f"a new file or a {p.suffix.lower()[1:].upper()} image to replace "
                          "(this file is something else; --force overwrites it)")
        if not os.access(p, os.W_OK):
            raise invalid(argument, str(path), "a file this process may write")
        return p
    _check_new(p, argument, str(path))
    return p


def check_folder(path: Any, argument: str) -> Path:
    """``path`` as a folder to write charts into (created if missing), checked without creating it."""
    p = Path(checks.path(argument, path))
    if p.exists():
        if not p.is_dir():
            raise invalid(argument, str(path), "a folder (this is a file; --plot takes a file name)")
        if not os.access(p, os.W_OK | os.X_OK):
            raise invalid(argument, str(path), "a folder this process may write")
        return p
    _check_new(p, argument, str(path))
    return p


def _check_new(p: Path, argument: str, text: str) -> None:
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise invalid(argument, text, f"a path whose folder can be created ({parent} is not a folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise invalid(argument, text, f"a path in a folder this process may write ({parent} is not)")


def save(fig: Any, path: Path, dpi: int) -> Path:
    """Render ``fig`` in the format ``path``'s suffix names, then move it into place in one step."""
    fmt = format_of(path, "path")
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format=fmt, metadata=_METADATA.get(fmt))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.getvalue())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
