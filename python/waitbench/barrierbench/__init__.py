# SPDX-License-Identifier: Apache-2.0
"""What the host-side fix costs between processes: wake-up latency of cross-process barriers.

``waitbench``'s ``host-block`` wakes a thread of the same process; LMDeploy's fix (PR #2607) wakes
other *processes*, through whatever primitive the barrier uses. This package measures that: the
parent process is the late rank, spawned processes are the waiting ranks, and each barrier kind
(:data:`kinds.KINDS`) is timed from the last arrival to every rank's release (and, on a GPU, to the
ack of the kernel each rank then launches), with each rank's CPU use while it waits and the GPU's
utilization meanwhile. ``benchmarks/barrier_latency.py`` runs it; records use the common schema
(strategy ``host-barrier``, options ``kind`` and ``ranks``).

``stress``: N rank processes x many rounds with random delays, every round checked. ``faults``: the
same checks with ranks killed (SIGKILL) and stopped (SIGSTOP) at random points, every kill timed
until each other rank noticed it. ``lifeline``: rank processes die with their parent and leave
Ctrl-C to it.
"""

from __future__ import annotations

from .harness import PointResult, PointSettings, run_group
from .kinds import KINDS, NEEDS_TORCH
from .records import STRATEGY, point_record

__all__ = ["KINDS", "NEEDS_TORCH", "STRATEGY", "PointResult", "PointSettings", "point_record", "run_group"]
