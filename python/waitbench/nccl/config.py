# SPDX-License-Identifier: Apache-2.0
"""What one rank needs to run one mode, and the one place its values are checked.

Why its own module: the launcher validates before it starts anything, the scenario runs it, and the
records describe it; all three read this one definition.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import invalid
from .clients import DEFAULT_NUMEL
from .modes import BACKENDS, COLLECTIVES, get_mode

MAX_LATE_S = 600.0
TIMEOUT_MARGIN_S = 120.0  # process-group and completion timeouts: late_s plus this


@dataclass(frozen=True)
class ScenarioConfig:
    """One mode of one run (picklable: it crosses the spawn boundary to every rank)."""

    mode: str
    backend: str = "nccl"
    collective: str = "all_reduce"
    late_s: float = 3.0
    late_rank: int = 0
    run_id: str = ""
    argv: tuple[str, ...] = ()
    numel: int = DEFAULT_NUMEL

    @property
    def timeout_s(self) -> float:
        return self.late_s + TIMEOUT_MARGIN_S


def validate_config(cfg: ScenarioConfig, world_size: int) -> None:
    """ValueError (argument, value, valid range) for anything a rank could not run."""
    get_mode(cfg.mode)
    if cfg.backend not in BACKENDS:
        raise invalid("--backend", cfg.backend, f"one of {', '.join(BACKENDS)}")
    if cfg.collective not in COLLECTIVES:
        raise invalid("--collective", cfg.collective, f"one of {', '.join(COLLECTIVES)}")
    if not 0 < cfg.late_s <= MAX_LATE_S:
        raise invalid("--late-s", cfg.late_s, f"seconds in (0, {MAX_LATE_S:g}]")
    if world_size < 2:
        raise invalid("world_size", world_size, "at least 2 ranks (one late, one waiting)")
    if not 0 <= cfg.late_rank < world_size:
        raise invalid("--late-rank", cfg.late_rank, f"a rank in [0, {world_size - 1}]")
    if cfg.numel < 1:
        raise invalid("numel", cfg.numel, "a positive element count")
