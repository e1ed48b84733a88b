# SPDX-License-Identifier: Apache-2.0
"""What one rank needs to run one mode, and the one place its values are checked.

Why its own module: the launcher validates before it starts anything, the scenario runs it, and the
records describe it; all three read this one definition. A mode runs a grid of *cells*: every
protocol x collective x message size asked for, one late-rank episode each.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import invalid
from .modes import BACKENDS, COLLECTIVES, get_mode

MAX_LATE_S = 600.0
TIMEOUT_MARGIN_S = 120.0  # process-group and completion timeouts: late_s plus this
# NCCL_PROTO values (NVIDIA/nccl src/graph/tuning.cc); None lets NCCL choose, as users' jobs do.
PROTOCOLS = ("LL", "LL128", "Simple")
WORKLOADS = ("fma", "gemm")  # concurrent workloads a waiting rank can run (waitbench.workloads)
# One element is what an idle server's broadcast moves (broadcast_object_list's size tensor); 1 << 28
# floats (1 GiB) bounds what a rank allocates (all_gather's output is world_size times that).
MAX_NUMEL = 1 << 28
MAX_WAKE_TRIALS = 10_000
# Calls made while a collective waits (waitbench._C.side_call_names(), plus torch's own).
CALLS = ("cudaMalloc", "cudaFree", "cudaMallocHost", "cudaStreamCreate", "first-launch", "cudaDeviceSynchronize",
         "torch.cuda.empty_cache")


@dataclass(frozen=True)
class Cell:
    """One late-rank episode of a mode: protocol (None: NCCL's choice), collective, elements per rank."""

    protocol: str | None
    collective: str
    numel: int

    @property
    def message_bytes(self) -> int:
        """Bytes each rank contributes (float32 elements)."""
        return 4 * self.numel  # float32

    def label(self) -> str:
        """``protocol/collective/size``, e.g. 'LL/broadcast/4B' ('auto': NCCL's choice)."""
        return f"{self.protocol or 'auto'}/{self.collective}/{self.message_bytes}B"


@dataclass(frozen=True)
class ScenarioConfig:
    """One mode of one run (picklable: it crosses the spawn boundary to every rank).

    ``calls`` non-empty makes the run a side-call run: one short episode per call instead of the cells.
    """

    mode: str
    backend: str = "nccl"
    collectives: tuple[str, ...] = ("all_reduce",)
    numels: tuple[int, ...] = (1,)
    protocols: tuple[str | None, ...] = (None,)
    workloads: tuple[str, ...] = WORKLOADS
    wake_trials: int = 20
    late_s: float = 3.0
    late_rank: int = 0
    run_id: str = ""
    argv: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()

    @property
    def timeout_s(self) -> float:
        """How long any one wait may take: the late arrival plus a margin."""
        return self.late_s + TIMEOUT_MARGIN_S

    def cells(self) -> list[Cell]:
        """The episodes, protocol first: each protocol gets a communicator of its own."""
        return [Cell(p, c, n) for p in self.protocols for c in self.collectives for n in self.numels]

    def budget_s(self) -> float:
        """A bound on how long the mode's ranks run once started (the launcher's deadline)."""
        per_episode = self.late_s + 8.0 + 0.02 * self.wake_trials  # solo runs, settle, profile, wake trials
        episodes = len(self.calls) if self.calls else len(self.cells())
        return self.timeout_s + episodes * per_episode


def validate_config(cfg: ScenarioConfig, world_size: int) -> None:
    """ValueError (argument, value, valid range) for anything a rank could not run."""
    get_mode(cfg.mode)
    if cfg.backend not in BACKENDS:
        raise invalid("--backend", cfg.backend, f"one of {', '.join(BACKENDS)}")
    if not cfg.collectives or any(c not in COLLECTIVES for c in cfg.collectives):
        raise invalid("--collective", ",".join(cfg.collectives), f"a comma-separated list of {', '.join(COLLECTIVES)}")
    if not cfg.numels or any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_NUMEL
                             for n in cfg.numels):
        raise invalid("--numel", ",".join(map(str, cfg.numels)), f"element counts in [1, {MAX_NUMEL}]")
    if not cfg.protocols or any(p is not None and p not in PROTOCOLS for p in cfg.protocols):
        raise invalid("--protocols", ",".join(p or "auto" for p in cfg.protocols),
                      f"a comma-separated list of auto, {', '.join(PROTOCOLS)}")
    if any(w not in WORKLOADS for w in cfg.workloads):
        raise invalid("--workloads", ",".join(cfg.workloads), f"a comma-separated list of {', '.join(WORKLOADS)}, "
                      "or none")
    if isinstance(cfg.wake_trials, bool) or not isinstance(cfg.wake_trials, int) \
            or not 0 <= cfg.wake_trials <= MAX_WAKE_TRIALS:
        raise invalid("--wake-trials", cfg.wake_trials, f"an integer in [0, {MAX_WAKE_TRIALS}]")
    if any(c not in CALLS for c in cfg.calls):
        raise invalid("--calls", ",".join(cfg.calls), f"a comma-separated list of {', '.join(CALLS)}, or all")
    if cfg.calls and cfg.backend != "nccl":
        raise invalid("--calls", ",".join(cfg.calls), "nothing with --backend gloo: the calls are CUDA calls")
    if not (isinstance(cfg.late_s, (int, float)) and 0 < cfg.late_s <= MAX_LATE_S):  # NaN fails both tests
        raise invalid("--late-s", cfg.late_s, f"seconds in (0, {MAX_LATE_S:g}]")
    if world_size < 2:
        raise invalid("world_size", world_size, "at least 2 ranks (one late, one waiting)")
    if not 0 <= cfg.late_rank < world_size:
        raise invalid("--late-rank", cfg.late_rank, f"a rank in [0, {world_size - 1}]")
