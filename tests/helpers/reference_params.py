# SPDX-License-Identifier: Apache-2.0
"""Parametrize tests over the REAL committed reference results shipped in the package, when present.

Synthetic records test the rendering logic; these make the same tests read the measured files too.
Until benchmarks/results/h200's run and sweep are copied into the package, the parameter skips with a reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "python" / "waitbench" / "report" / "reference_data"
REFERENCE_FILES = sorted(REFERENCE_DIR.glob("*.jsonl"))


def reference_params() -> list:
    """One pytest.param per reference file, or one skipped param saying why there is none."""
    if REFERENCE_FILES:
        return [pytest.param(p, id=p.name) for p in REFERENCE_FILES]
    return [pytest.param(None, id="no-reference", marks=pytest.mark.skip(
        reason=f"no reference results in {REFERENCE_DIR} yet "
               "(copy benchmarks/results/h200/run.jsonl and sweep.jsonl there)"))]
