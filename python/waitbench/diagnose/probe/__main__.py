# SPDX-License-Identifier: Apache-2.0
"""``python -m waitbench.diagnose.probe --uuid GPU-...``: one probe burst, one JSON line on stdout (diagnose's child)."""

from __future__ import annotations

from .measure import main

main()
