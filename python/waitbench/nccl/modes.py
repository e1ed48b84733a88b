# SPDX-License-Identifier: Apache-2.0
"""The one table of real-collective modes: how a rank waits for a late peer, and which knob it sets.

Why a table: the names are public API (``waitbench nccl --modes``, the ``strategy`` of 'nccl'
records), and ``--help``, validation and the skip rules all read this one place.

Each mode names its *entry* (what a rank does when it reaches the collective), its *client* (which
library issues the collective) and the environment it sets in the rank process before the process
group exists. NCCL reads its ``NCCL_*`` parameters once per process (``NCCL_PARAM`` caches them at
first use; NVIDIA/nccl src/include/param.h), so a mode that sets one needs a process of its own: the
spawning launcher gives every mode fresh processes; under torchrun, where modes share the process,
such a mode runs only when it is the sole NCCL mode of the invocation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from ..errors import invalid

ENTRIES = ("plain", "host-barrier", "dist-barrier")
CLIENTS = ("torch", "cupy")
BACKENDS = ("nccl", "gloo")
COLLECTIVES = ("all_reduce", "broadcast", "all_gather")


@dataclass(frozen=True)
class Mode:
    """One way of reaching a collective that a peer is late for.

    Attributes:
        name: public name (the ``strategy`` of its records).
        doc: one line a user reads in ``--help`` and in reports.
        entry: 'plain' (call the collective), 'host-barrier' (a gloo barrier first: nothing reaches
            the GPU until every rank is there) or 'dist-barrier' (``dist.barrier()`` on the collective's
            own group first).
        client: 'torch' (torch.distributed) or 'cupy' (cupy.cuda.nccl, a second client of NCCL).
        env: variables set in the rank process before its process group is created.
        process_env: True when NCCL reads ``env`` once per process (it cannot change between modes
            that share a process).
        min_nccl: the oldest NCCL version that has the mode's knob, or None.
    """

    name: str
    doc: str
    entry: str = "plain"
    client: str = "torch"
    env: Mapping[str, str] = field(default_factory=dict)
    process_env: bool = False
    min_nccl: tuple[int, int, int] | None = None


_TABLE = (
    Mode("nccl", "plain NCCL: the waiting ranks' kernels spin on the GPU until the late rank arrives"),
    Mode("nccl+host-barrier", "gloo barrier before the collective (the LMDeploy #2607 fix): nothing is "
         "enqueued on the GPU until every rank is there", entry="host-barrier"),
    Mode("nccl+dist-barrier", "dist.barrier() on the NCCL group before the collective: a negative control, "
         "the barrier is itself a GPU all-reduce and spins", entry="dist-barrier"),
    Mode("nccl+blocking-wait", "TORCH_NCCL_BLOCKING_WAIT=1: changes only how the CPU waits for the collective",
         env={"TORCH_NCCL_BLOCKING_WAIT": "1"}),
    # NCCL 2.28 parses NCCL_CTA_POLICY as an integer (the names DEFAULT/EFFICIENCY/ZERO are accepted
    # only from 2.29), so ZERO is written as its value NCCL_CTA_POLICY_ZERO = 2. In 2.28 the zero-CTA
    # (copy-engine) path is taken only for buffers registered as symmetric NCCL windows
    # (src/enqueue.cc); torch's ordinary tensors keep the kernel path, which this mode records.
    Mode("nccl-zero-cta", "NCCL_CTA_POLICY=2 (ZERO): NCCL uses no CTA where it can (symmetric-window "
         "buffers only in NCCL 2.28)", env={"NCCL_CTA_POLICY": "2"}, process_env=True, min_nccl=(2, 28, 0)),
    Mode("nccl-1ch", "NCCL_MAX_NCHANNELS=1: one channel, so one waiting block per collective",
         env={"NCCL_MAX_NCHANNELS": "1"}, process_env=True),
    Mode("cupy-nccl", "cupy.cuda.nccl as a second client of NCCL (no torch in the collective path)",
         client="cupy"),
)


def validate_table(table: Sequence[Mode]) -> None:
    """Raise ValueError if a mode table is malformed (names unique, known entries and clients)."""
    seen: set[str] = set()
    for m in table:
        if not m.name or m.name in seen or "," in m.name:
            raise invalid("mode.name", m.name, "a unique non-empty name without commas")
        seen.add(m.name)
        if not m.doc:
            raise invalid(f"{m.name}.doc", m.doc, "a one-line description")
        if m.entry not in ENTRIES:
            raise invalid(f"{m.name}.entry", m.entry, f"one of {', '.join(ENTRIES)}")
        if m.client not in CLIENTS:
            raise invalid(f"{m.name}.client", m.client, f"one of {', '.join(CLIENTS)}")
        for k, v in m.env.items():
            if not (isinstance(k, str) and isinstance(v, str) and k):
                raise invalid(f"{m.name}.env", {k: v}, "a mapping of variable names to string values")
        if m.process_env and not any(k.startswith("NCCL_") for k in m.env):
            raise invalid(f"{m.name}.process_env", True, "True only for modes that set an NCCL_* variable")


validate_table(_TABLE)
MODES: Mapping[str, Mode] = MappingProxyType({m.name: m for m in _TABLE})


def mode_names() -> list[str]:
    """Every mode name, in table order (the default ``--modes``)."""
    return list(MODES)


def get_mode(name: str) -> Mode:
    """The mode called ``name``; ValueError naming the valid ones otherwise."""
    try:
        return MODES[name]
    except KeyError:
        raise invalid("mode", name, f"one of {', '.join(MODES)}") from None


def parse_modes(text: str | None) -> list[Mode]:
    """Modes from a comma-separated list ('all' or None: every mode), duplicates removed, order kept."""
    if text is None or text.strip() == "all":
        return list(MODES.values())
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise invalid("--modes", text, f"a comma-separated list of {', '.join(MODES)} (or 'all')")
    unknown = [n for n in names if n not in MODES]
    if unknown:
        raise invalid("--modes", text, f"a comma-separated list of {', '.join(MODES)} (or 'all')")
    return [MODES[n] for n in dict.fromkeys(names)]


def format_version(version: Sequence[int] | None) -> str | None:
    """'2.28.9' from (2, 28, 9); None stays None."""
    return None if version is None else ".".join(str(int(v)) for v in version)


def skip_reason(mode: Mode, *, backend: str, nccl_version: Sequence[int] | None, cupy_available: bool,
                shared_process: bool = False, shares_with_nccl_modes: bool = False) -> str | None:
    """Why ``mode`` cannot run here (a sentence for the record), or None when it can.

    Args:
        mode: the mode to run.
        backend: 'nccl' (real GPUs) or 'gloo' (the CPU dry run of the same orchestration).
        nccl_version: the NCCL torch loaded, or None (gloo backend, or unknown).
        cupy_available: whether ``import cupy`` would succeed.
        shared_process: True when modes run one after another in one process (torchrun).
        shares_with_nccl_modes: True when other NCCL modes run in that same process.
    """
    if backend not in BACKENDS:
        raise invalid("backend", backend, f"one of {', '.join(BACKENDS)}")
    if mode.client == "cupy":
        if backend != "nccl":
            return "cupy-nccl needs the nccl backend and CUDA GPUs (gloo dry run)"
        if not cupy_available:
            return "cupy is not installed (pip install 'waitbench[cupy]')"
    if backend == "nccl" and mode.min_nccl is not None:
        if nccl_version is None:
            return f"NCCL version unknown; {mode.name} needs NCCL >= {format_version(mode.min_nccl)}"
        if tuple(nccl_version) < mode.min_nccl:
            return (f"{mode.name} needs NCCL >= {format_version(mode.min_nccl)}, "
                    f"torch loaded NCCL {format_version(nccl_version)}")
    if backend == "nccl" and mode.process_env and shared_process and shares_with_nccl_modes:
        names = ", ".join(mode.env)
        return (f"NCCL reads {names} once per process and torchrun runs every mode in one process: "
                f"run this mode alone (--modes {mode.name})")
    return None
