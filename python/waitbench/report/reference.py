# SPDX-License-Identifier: Apache-2.0
"""The committed reference results, shipped inside the package so an installed wheel has them.

Why package data: ``waitbench report --reference`` is what a person without a GPU runs to see what
waitbench measures, so the files must come with ``pip install``, not only with a git checkout. They
are copies of the H200's ``run.jsonl`` and ``sweep.jsonl`` under :data:`COPIED_FROM`, found through
importlib.resources (which also works when the package is imported from a zip).
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any

from ..errors import ResultsError
from ..results import load_records

if TYPE_CHECKING:  # importlib.resources.abc is Python >= 3.11; only type checkers read this
    from importlib.resources.abc import Traversable

REFERENCE_DIR = "reference_data"  # python/waitbench/report/reference_data/*.jsonl (package data, not a module)
COPIED_FROM = "benchmarks/results/h200"  # in the repository: the committed results these files copy


def reference_files() -> list[Traversable]:
    """The shipped reference results files, sorted by name (empty if none are installed)."""
    root = resources.files(__package__).joinpath(REFERENCE_DIR)
    if not root.is_dir():
        return []
    return sorted((f for f in root.iterdir() if f.is_file() and f.name.endswith(".jsonl")), key=lambda f: f.name)


def load_reference() -> list[dict[str, Any]]:
    """Every record of the reference results; ResultsError when this installation has none."""
    files = reference_files()
    if not files:
        raise ResultsError(f"no reference results are installed with this waitbench "
                           f"(expected *.jsonl in the package directory waitbench/report/{REFERENCE_DIR}/)")
    records: list[dict[str, Any]] = []
    for f in files:
        with resources.as_file(f) as path:
            records.extend(load_records(path))
    return records
