# SPDX-License-Identifier: Apache-2.0
"""``python -m waitbench.diagnose.probe --uuid GPU-...``: diagnose's child, one probe burst, one JSON line on stdout."""

from __future__ import annotations

from .measure import main

main()
