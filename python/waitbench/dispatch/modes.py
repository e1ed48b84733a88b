# SPDX-License-Identifier: Apache-2.0
"""The one table of dispatch modes: how rank 0 of a tensor-parallel group hands a request to every rank.

Why a table: the names are public API (``waitbench dispatch --modes``, the ``strategy`` of 'dispatch'
records); ``--help``, validation, the skip rules and the reports all read this one place. Each mode
names what it stands for and the source it mirrors, what it needs (one GPU per rank, torch, pyzmq, a
CPU wait instruction) and its options with their ranges.

Transports: ``ring`` is the shared-memory dispatch ring (csrc/dispatch_ring.hpp) with one of its
C++ waits; ``gloo`` and ``nccl`` broadcast through torch.distributed; ``zmq`` a PUB/SUB socket;
``floor`` the same-process hand-off. Every mode carries the request the same way: rank 0 stamps its
arrival, the ranks receive it, each launches the stamping forward (on a GPU) and acks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import invalid

TRANSPORTS = ("ring", "gloo", "nccl", "zmq", "floor")
ENTRIES = ("none", "mp-barrier", "host-barrier")  # what a rank waits on before an NCCL broadcast
NEEDS = ("gpu-per-rank", "torch", "pyzmq", "mwaitx", "umwait")


@dataclass(frozen=True)
class Option:
    """A typed option of a mode: integer, with its unit and inclusive range."""

    name: str
    default: int
    lo: int
    hi: int
    unit: str
    doc: str

    def check(self, value: Any) -> int:
        """The value as an int, or ValueError naming the option, the value and the range."""
        if isinstance(value, str):
            try:
                value = int(value, 0)
            except ValueError:
                raise invalid(self.name, value, f"an int in [{self.lo}, {self.hi}] ({self.unit})") from None
        if isinstance(value, bool) or not isinstance(value, int) or not self.lo <= value <= self.hi:
            raise invalid(self.name, value, f"an int in [{self.lo}, {self.hi}] ({self.unit})")
        return value


@dataclass(frozen=True)
class Mode:
    """One way of handing a request to every rank.

    Attributes:
        name: public name (the ``strategy`` of its records).
        doc: what it stands for, one line.
        source: the code or change it mirrors.
        transport: one of :data:`TRANSPORTS`.
        wait: the ring's wait (``RingWait`` member name) for ``ring``, else None.
        entry: for ``nccl``: what a rank waits on before the broadcast (:data:`ENTRIES`).
        needs: what must be present, from :data:`NEEDS`.
        options: its options.
    """

    name: str
    doc: str
    source: str
    transport: str
    wait: str | None = None
    entry: str = "none"
    needs: tuple[str, ...] = ()
    options: tuple[Option, ...] = field(default_factory=tuple)

    @property
    def host_side(self) -> bool:
        """True when every rank may share one GPU (and none is needed): the hand-off is on the host."""
        return "gpu-per-rank" not in self.needs


_SPIN_US = Option("spin_us", 50, 0, 1_000_000, "us", "how long a waiter spins before it parks")
_SLEEP_US = Option("sleep_us", 100, 1, 1_000_000, "us", "sleep between two looks at the ring")
_CYCLES = Option("wait_cycles", 100_000, 100, 100_000_000, "TSC cycles", "longest single hardware wait")

_TABLE = (
    Mode("nccl-broadcast", "idle ranks wait inside broadcast_object_list on the NCCL group: the GPU spins",
         "LMDeploy before PR #2607 (pytorch/engine/model_agent.py)", "nccl", needs=("gpu-per-rank", "torch")),
    Mode("mp-barrier+nccl", "multiprocessing.Barrier on the host, then the NCCL broadcast",
         "LMDeploy PR #2607", "nccl", entry="mp-barrier", needs=("gpu-per-rank", "torch")),
    Mode("host-barrier+nccl", "waitbench.HostBarrier (a shared-memory futex) on the host, then the NCCL broadcast",
         "waitbench.HostBarrier", "nccl", entry="host-barrier", needs=("gpu-per-rank", "torch"), options=(_SPIN_US,)),
    Mode("gloo-broadcast", "a size then a byte tensor broadcast on a gloo CPU group",
         "SGLang broadcast_pyobj (srt/utils.py), --sleep-on-idle off", "gloo", needs=("torch",)),
    Mode("shm-ring-yield", "shared-memory ring polled with sched_yield between looks",
         "vLLM MessageQueue.acquire_read (distributed/device_communicators/shm_broadcast.py)", "ring", wait="YIELD"),
    Mode("shm-ring-sleep", "shared-memory ring polled with a sleep between looks",
         "vLLM VLLM_SLEEP_WHEN_IDLE", "ring", wait="SLEEP", options=(_SLEEP_US,)),
    Mode("shm-ring-futex", "shared-memory ring; waiters sleep on a futex the publisher wakes",
         "vLLM sleep-when-idle with a kernel wake-up (as its ZMQ wake-ups, PR #28053, do)", "ring", wait="FUTEX"),
    Mode("zmq", "a ZeroMQ PUB/SUB socket over ipc: waiters block in zmq_poll",
         "vLLM ZMQ wake-ups (PR #28053)", "zmq", needs=("pyzmq",)),
    Mode("pause-spin", "shared-memory ring spun on with the pause instruction",
         "vLLM VLLM_USE_SPINLOOP_EXT's pause fallback (PR #36517)", "ring", wait="PAUSE"),
    Mode("mwaitx", "shared-memory ring, MONITORX/MWAITX on its line between looks (AMD)",
         "vLLM VLLM_USE_SPINLOOP_EXT (PR #36517: 'up to 110 W' saved)", "ring", wait="MWAITX", needs=("mwaitx",),
         options=(_CYCLES,)),
    Mode("umwait", "shared-memory ring, UMONITOR/UMWAIT (C0.1) on its line between looks (Intel WAITPKG)",
         "the Intel counterpart of VLLM_USE_SPINLOOP_EXT", "ring", wait="UMWAIT", needs=("umwait",),
         options=(_CYCLES,)),
    Mode("adaptive-spin", "shared-memory ring: pause spin for spin_us, then park on the futex",
         "vLLM RFC #52916 (adaptive spin)", "ring", wait="ADAPTIVE", options=(_SPIN_US,)),
    Mode("floor", "same-process hand-off: one atomic store, a hot thread launches the forward",
         "the floor under every mode", "floor"),
)


def validate_table(table: Sequence[Mode]) -> None:
    """Raise ValueError if a mode table is malformed (unique names, known transports, entries, needs)."""
    seen: set[str] = set()
    for m in table:
        if not m.name or m.name in seen or "," in m.name or m.name == "all":
            raise ValueError(f"mode name {m.name!r} is empty, repeated, 'all' or holds a comma")
        seen.add(m.name)
        if m.transport not in TRANSPORTS:
            raise ValueError(f"mode {m.name}: transport {m.transport!r} is not one of {TRANSPORTS}")
        if (m.transport == "ring") != (m.wait is not None):
            raise ValueError(f"mode {m.name}: a ring mode names its wait, and only a ring mode does")
        if m.entry not in ENTRIES or (m.entry != "none" and m.transport != "nccl"):
            raise ValueError(f"mode {m.name}: entry {m.entry!r} is unknown or not on an nccl transport")
        bad = [n for n in m.needs if n not in NEEDS]
        if bad:
            raise ValueError(f"mode {m.name}: unknown needs {bad}")
        if not m.doc or not m.source:
            raise ValueError(f"mode {m.name}: doc and source are required")
        names = [o.name for o in m.options]
        if len(set(names)) != len(names) or any(not o.lo <= o.default <= o.hi for o in m.options):
            raise ValueError(f"mode {m.name}: options repeat or a default is out of its range")


validate_table(_TABLE)
MODES: Mapping[str, Mode] = MappingProxyType({m.name: m for m in _TABLE})


def parse_modes(text: str) -> list[Mode]:
    """``--modes``: comma-separated names, or 'all'; ValueError naming the first unknown one."""
    items = [x.strip() for x in text.split(",") if x.strip()]
    if items == ["all"]:
        return list(MODES.values())
    if not items:
        raise invalid("modes", text, "a comma-separated list of " + ", ".join(MODES) + ", or 'all'")
    out = []
    for name in dict.fromkeys(items):
        if name not in MODES:
            raise invalid("modes", name, "one of " + ", ".join(MODES) + ", or 'all'")
        out.append(MODES[name])
    return out


def resolve_options(mode: Mode, given: Mapping[str, Any]) -> dict[str, int]:
    """The mode's options with defaults filled in; ValueError for an unknown name or a value out of range."""
    known = {o.name: o for o in mode.options}
    for name in given:
        if name not in known:
            raise invalid("option", name, f"an option of {mode.name}: " + (", ".join(known) or "it has none"))
    return {o.name: o.check(given.get(o.name, o.default)) for o in mode.options}
