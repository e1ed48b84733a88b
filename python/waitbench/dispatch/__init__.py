# SPDX-License-Identifier: Apache-2.0
"""What each fix costs per request: rank 0 of a tensor-parallel group hands requests to every rank.

N rank processes form a group; rank 0 receives requests (Poisson or bursts, seeded) and hands each
to every rank through the mode under test (:data:`modes.MODES`: NCCL broadcast, barriers then NCCL,
gloo, a shared-memory ring with yield/sleep/futex/CPU-instruction waits, ZeroMQ, and the same-process
floor). Each rank then starts a forward kernel that stamps %globaltimer; the dispatch latency is that
start on the host clock minus the arrival on rank 0, beside each rank's host receive time, each
mode's idle cost (host CPU per rank, GPU telemetry) and the highest rate it sustains.
``waitbench dispatch`` runs it; records are 'dispatch' records of the common schema.
"""

from __future__ import annotations

from .harness import ModeResult, Settings
from .modes import MODES, Mode, parse_modes, resolve_options
from .suite import run_modes, unavailable

__all__ = ["MODES", "Mode", "ModeResult", "Settings", "parse_modes", "resolve_options", "run_modes", "unavailable"]
