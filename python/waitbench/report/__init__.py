# SPDX-License-Identifier: Apache-2.0
"""The reading side of waitbench: tables, plots and the committed reference results.

Everything here reads records only (never a GPU), so a report renders on any machine. Plots need
matplotlib (the ``report`` extra) and are imported on first use.
"""

from __future__ import annotations

from .reference import load_reference, reference_files
from .render import FORMATS, TableData
from .tables import build_tables, strategy_rows, sweep_rows

__all__ = ["FORMATS", "TableData", "build_tables", "load_reference", "reference_files", "strategy_rows", "sweep_rows"]
