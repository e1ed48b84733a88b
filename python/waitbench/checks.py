# SPDX-License-Identifier: Apache-2.0
"""Argument checks shared by the strategy table, the API and the CLI: numbers, counts, paths.

Why one module: ``value < lo or value > hi`` is False for NaN, so a range check written inline lets
NaN through (and a NaN deadline reaches the C++ core as undefined behaviour); an unbounded count
lets ``--trials 1e20`` start a run that never ends; an empty string taken for "not given" reads the
current folder. Every check here raises the package's one ValueError shape
(:func:`waitbench.errors.invalid`: argument, value, valid range) and is the only place that rule
is written.
"""

from __future__ import annotations

import math
import os
from typing import Any

from .errors import invalid

MAX_PATH_CHARS = 4096  # Linux PATH_MAX
MAX_NAME_BYTES = 255  # Linux NAME_MAX: one file or folder name
MAX_GPU_INDEX = 1023  # far above any host's GPU count; the device count is checked again on use


def _range_text(lo: float | None, hi: float | None, integer: bool) -> str:
    kind = "an int" if integer else "a finite number"
    if lo is None and hi is None:
        return kind
    return f"{kind} in [{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}]"


def number(argument: str, value: Any, lo: float | None = None, hi: float | None = None, *,
           integer: bool = False, valid: str | None = None) -> Any:
    """``value`` if it is a finite number (an int when ``integer``) within [lo, hi]; else ValueError.

    Bools are not numbers here (``True`` is no count); an integral float is accepted as an int.
    ``valid`` replaces the generated range text in the message.
    """
    text = valid or _range_text(lo, hi, integer)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(argument, value, text)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise invalid(argument, value, text)
        if integer:
            if not value.is_integer():
                raise invalid(argument, value, text)
            value = int(value)
    if (lo is not None and not value >= lo) or (hi is not None and not value <= hi):
        raise invalid(argument, value, text)
    return value


def count(argument: str, value: Any, lo: int, hi: int) -> int:
    """An int in [lo, hi] (every count has an upper bound)."""
    return int(number(argument, value, lo, hi, integer=True))


def gpu_index(argument: str, value: Any) -> int:
    """A CUDA device index: an int in [0, MAX_GPU_INDEX] (checked against the device count on use)."""
    return count(argument, value, 0, MAX_GPU_INDEX)


def path(argument: str, value: Any) -> str:
    """A path given as a non-empty str or os.PathLike (an empty string is not "not given": it is an error)."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value or "\0" in value:
        raise invalid(argument, value, "a non-empty path (str or os.PathLike) without NUL characters")
    try:
        names = [os.fsencode(part) for part in value.split(os.sep)]
    except UnicodeEncodeError:
        raise invalid(argument, value, "a path this file system can name (it holds an unencodable character)") from None
    if len(value) > MAX_PATH_CHARS or any(len(name) > MAX_NAME_BYTES for name in names):
        raise invalid(argument, value, f"a path of at most {MAX_PATH_CHARS} characters whose names are at most "
                      f"{MAX_NAME_BYTES} bytes")
    return value


def optional_callable(argument: str, value: Any, valid: str) -> Any:
    """``value`` if it is None or callable."""
    if value is not None and not callable(value):
        raise invalid(argument, value, valid)
    return value


def flag(argument: str, value: Any) -> bool:
    """A bool (not a truthy int or string)."""
    if not isinstance(value, bool):
        raise invalid(argument, value, "True or False")
    return value
