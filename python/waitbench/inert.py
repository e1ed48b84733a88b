# SPDX-License-Identifier: Apache-2.0
r"""Strings from files and other processes, made inert before they are shown.

Why: a strategy name in a results file, a GPU name in a recording or another process's command line
is text someone else wrote. Printed raw, an ESC or CSI (U+001B, U+009B) in it sets the window
title, clears the screen or recolours what follows, a BEL rings, a carriage return overwrites the
line, and a bidi override (U+202E) shows ``exe.txt`` for ``txt.exe``. Every output path (rich
tables, notes, markdown, CSV, error lines) shows such text through :func:`inert`, so each of those
characters appears as its Python escape (``\x1b``, ``\x9b``, ``\u202e``) and the rest of the text
stays as it was, recognisable. JSON output needs no help: ``json.dumps`` (``ensure_ascii``) writes
every such character as a ``\uXXXX`` escape and the value itself stays faithful.

Rich markup (``[bold]``) is another matter, handled where rich draws: rich ``Text`` objects or
``rich.markup.escape``.
"""

from __future__ import annotations


def _escape(ch: str) -> str:
    return repr(ch)[1:-1]  # '\x1b', '\x9b', '\u202e', '\n', '\t', '\udcff' (a byte a file name could not decode)


def inert(text: object, *, newlines: bool = False) -> str:
    r"""``text`` (``str()`` of it) with every unprintable character shown as its escape.

    Unprintable is Python's ``str.isprintable``: the C0 controls and DEL, the C1 controls (CSI
    U+009B among them), format characters (bidi overrides and isolates, zero-width marks), line and
    paragraph separators, lone surrogates and unassigned code points. ``newlines=True`` keeps
    ``\n`` as it is, for text that is laid out on several lines (a table cell); everything else is
    one line. A backslash is left alone, so the result of ``inert`` is its own ``inert``.
    """
    s = str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() or (newlines and ch == "\n") else _escape(ch) for ch in s)
