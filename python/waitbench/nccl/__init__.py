# SPDX-License-Identifier: Apache-2.0
"""Real collectives on two or more GPUs: one rank arrives late, the others wait, each mode side by side.

Importing this package needs neither torch nor a GPU (torch is imported when a run starts), so the
CLI and the mode table work everywhere. Start with :func:`run`, or ``waitbench nccl``.
"""

from __future__ import annotations

from .launch import REQUIRED_ENV, run, under_torchrun
from .modes import MODES, Mode, get_mode, mode_names, parse_modes

__all__ = ["MODES", "REQUIRED_ENV", "Mode", "get_mode", "mode_names", "parse_modes", "run", "under_torchrun"]
