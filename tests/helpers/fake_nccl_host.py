# SPDX-License-Identifier: Apache-2.0
"""A fake NCCL host: loads the profiler plugin with ctypes and calls it as NCCL's profiler.cc would.

A fake, for unit-testing the plugin's logic on a CPU: no NCCL, no GPU. It declares the plugin interface
from NCCL's documented layout (the same one csrc/profiler/nccl_abi.hpp declares, written again here so a
mistake in one is caught by the other), dlopens the library, looks up ``ncclProfiler_v<abi>`` and drives
init, startEvent, stopEvent, recordEventState and finalize in NCCL's order for an eager collective
(docs/PROFILER.md, "event order"): CollApi start and stop, then Coll start and stop on the application's
thread, then each kernel channel's start, KernelChStop record and stop, which NCCL's proxy thread sends
after the Coll has stopped. GPU timestamps are whatever the test gives: synthetic, known values.

Run as a script it plays one rank of a job in its own process (``python fake_nccl_host.py SPEC.json``), so
tests get one ring per process, and can die without finalize.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

c_u8, c_u64, c_int, c_void_p, c_char_p, c_size_t = (ctypes.c_uint8, ctypes.c_uint64, ctypes.c_int, ctypes.c_void_p,
                                                    ctypes.c_char_p, ctypes.c_size_t)

COLL, KERNEL_CH, GROUP_API, COLL_API, GROUP = 1 << 1, 1 << 6, 1 << 8, 1 << 9, 1 << 0
KERNEL_CH_STOP = 22


class CollApiDescr(ctypes.Structure):
    _fields_ = [("func", c_char_p), ("count", c_size_t), ("datatype", c_char_p), ("root", c_int),
                ("stream", c_void_p), ("graph_captured", ctypes.c_bool), ("user_tag", c_u64)]


class CollDescr(ctypes.Structure):
    _fields_ = [("seq_number", c_u64), ("func", c_char_p), ("send_buff", c_void_p), ("recv_buff", c_void_p),
                ("count", c_size_t), ("root", c_int), ("datatype", c_char_p), ("n_channels", c_u8),
                ("n_warps", c_u8), ("algo", c_char_p), ("proto", c_char_p), ("parent_group", c_void_p),
                ("kernel_variant", c_char_p), ("is_sym_coll", ctypes.c_bool), ("user_tag", c_u64)]


class KernelChDescr(ctypes.Structure):
    _fields_ = [("channel_id", c_u8), ("p_timer", c_u64)]


class GroupApiDescr(ctypes.Structure):
    _fields_ = [("graph_captured", ctypes.c_bool), ("group_depth", c_int)]


class DescrUnion(ctypes.Union):
    _fields_ = [("group_api", GroupApiDescr), ("coll_api", CollApiDescr), ("coll", CollDescr),
                ("kernel_ch", KernelChDescr), ("pad", ctypes.c_byte * 192)]


class EventDescr(ctypes.Structure):
    _fields_ = [("type", c_u64), ("parent_obj", c_void_p), ("rank", c_int), ("u", DescrUnion)]


class StateArgs(ctypes.Union):
    _fields_ = [("kernel_ch_p_timer", c_u64), ("trans_size", c_size_t)]


LOGGER = ctypes.CFUNCTYPE(None, c_int, ctypes.c_ulong, c_char_p, c_int, c_char_p)  # variadic tail ignored
INIT = ctypes.CFUNCTYPE(c_int, ctypes.POINTER(c_void_p), c_u64, ctypes.POINTER(c_int), c_char_p, c_int, c_int, c_int,
                        LOGGER)
START = ctypes.CFUNCTYPE(c_int, c_void_p, ctypes.POINTER(c_void_p), ctypes.POINTER(EventDescr))
STOP = ctypes.CFUNCTYPE(c_int, c_void_p)
RECORD = ctypes.CFUNCTYPE(c_int, c_void_p, c_int, ctypes.POINTER(StateArgs))
FINALIZE = ctypes.CFUNCTYPE(c_int, c_void_p)


class Table(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("init", INIT), ("start_event", START), ("stop_event", STOP),
                ("record_event_state", RECORD), ("finalize", FINALIZE)]


assert ctypes.sizeof(EventDescr) >= 136 and EventDescr.u.offset == 24
assert CollDescr.user_tag.offset + 24 == 128 and KernelChDescr.p_timer.offset == 8


@dataclass
class Collective:
    """One collective as the test wants the plugin to see it (GPU times in ns of a synthetic clock)."""

    func: str
    gpu_starts: Sequence[int]  # per channel
    gpu_stops: Sequence[int]
    count: int = 1024
    datatype: str = "ncclFloat32"
    algo: str = "RING"
    proto: str = "SIMPLE"
    graph_captured: bool = False
    user_tag: int = 0


@dataclass
class FakeComm:
    """One communicator of the fake host: its plugin context and NCCL's per-function sequence numbers."""

    host: FakeNcclHost
    context: int | None
    rank: int
    seq: dict[str, int] = field(default_factory=dict)

    def start(self, kind: int, parent: int | None = None, **fields: object) -> int | None:
        """StartEvent with a descriptor of ``kind``; returns the handle (None: the plugin gave none)."""
        d = EventDescr(type=kind, parent_obj=parent, rank=self.rank)
        member = {COLL_API: "coll_api", COLL: "coll", KERNEL_CH: "kernel_ch", GROUP_API: "group_api"}.get(kind)
        for name, value in fields.items():
            setattr(getattr(d.u, member), name, value.encode() if isinstance(value, str) else value)
        handle = c_void_p()
        assert self.host.table.start_event(self.context, ctypes.byref(handle), ctypes.byref(d)) == 0
        ctypes.memset(ctypes.byref(d), 0xAB, ctypes.sizeof(d))  # the descriptor was on NCCL's stack: gone now
        return handle.value

    def stop(self, handle: int | None) -> None:
        """StopEvent (NCCL skips it for a NULL handle)."""
        if handle:
            assert self.host.table.stop_event(handle) == 0

    def record_kernel_stop(self, handle: int | None, p_timer: int) -> None:
        """recordEventState(KernelChStop, pTimer) (NCCL skips it for a NULL handle)."""
        if handle:
            args = StateArgs(kernel_ch_p_timer=p_timer)
            assert self.host.table.record_event_state(handle, KERNEL_CH_STOP, ctypes.byref(args)) == 0

    def enqueue(self, c: Collective) -> tuple[int | None, int]:
        """The application thread's part: GroupApi, CollApi, Group and Coll events; returns (Coll handle, seq)."""
        seq = self.seq.get(c.func, 0)
        self.seq[c.func] = seq + 1
        group_api = self.start(GROUP_API, graph_captured=c.graph_captured, group_depth=1)
        api = self.start(COLL_API, parent=group_api, func=c.func, count=c.count, datatype=c.datatype,
                         graph_captured=c.graph_captured, user_tag=c.user_tag)
        self.stop(api)
        group = self.start(GROUP)
        coll = self.start(COLL, parent=api, seq_number=seq, func=c.func, count=c.count, datatype=c.datatype,
                          n_channels=len(c.gpu_starts), n_warps=16, algo=c.algo, proto=c.proto, parent_group=group,
                          user_tag=c.user_tag)
        self.stop(coll)
        self.stop(group)
        self.stop(group_api)
        return coll, seq

    def run_kernel(self, coll: int | None, c: Collective, stops: bool = True) -> list[int | None]:
        """The proxy thread's part: every channel starts, then (``stops``) records its stop time and stops."""
        handles = [self.start(KERNEL_CH, parent=coll, channel_id=i, p_timer=t) for i, t in enumerate(c.gpu_starts)]
        if stops:
            for h, t in zip(handles, c.gpu_stops, strict=True):
                self.record_kernel_stop(h, t)
                self.stop(h)
        return handles

    def collective(self, c: Collective) -> int:
        """One eager collective, start to end; returns its sequence number."""
        coll, seq = self.enqueue(c)
        self.run_kernel(coll, c)
        return seq

    def finalize(self) -> None:
        """The communicator is destroyed."""
        assert self.host.table.finalize(self.context) == 0


class FakeNcclHost:
    """The plugin library loaded as NCCL loads it, seen through one ``ncclProfiler_v<abi>`` table."""

    def __init__(self, library: str, abi: int = 6) -> None:
        self.lib = ctypes.CDLL(library, mode=os.RTLD_NOW | os.RTLD_LOCAL)
        self.table = Table.in_dll(self.lib, f"ncclProfiler_v{abi}")
        self.logged: list[tuple[int, str]] = []
        self._logger = LOGGER(lambda level, flags, file, line, fmt: self.logged.append((level, fmt.decode())))

    def init(self, comm_id: int, rank: int, n_ranks: int, n_nodes: int = 1, name: str | None = None) -> FakeComm:
        """A communicator's init; the plugin's mask is in ``self.mask`` (NCCL's one process-wide int)."""
        context, mask = c_void_p(), c_int(0)
        rc = self.table.init(ctypes.byref(context), comm_id, ctypes.byref(mask), name.encode() if name else None,
                             n_nodes, n_ranks, rank, self._logger)
        self.mask, self.init_rc = mask.value, rc
        return FakeComm(self, context.value, rank)


class TrackedHost(FakeNcclHost):
    """The fake host, remembering its communicators so the test's end finalizes any it left (the plugin's
    globals live as long as the process, and its ring closes only when its last communicator is finalized).
    """

    def __init__(self, library: str, abi: int = 6) -> None:
        super().__init__(library, abi)
        self.comms: list[FakeComm] = []

    def init(self, *args: object, **kwargs: object) -> FakeComm:
        comm = super().init(*args, **kwargs)
        self.comms.append(comm)
        original = comm.finalize

        def finalize() -> None:
            self.comms.remove(comm)
            original()

        comm.finalize = finalize  # type: ignore[method-assign]
        return comm


def play(spec: dict) -> None:
    """Play one rank from a JSON spec: collectives with their channel times, then finalize or die."""
    host = FakeNcclHost(spec["library"], spec.get("abi", 6))
    comm = host.init(spec["comm_id"], spec["rank"], spec["n_ranks"])
    for c in spec["collectives"]:
        comm.collective(Collective(c["func"], c["starts"], c["stops"]))
    if spec.get("die_with_coll_in_flight"):
        c = Collective("AllReduce", [10, 10], [20, 20])
        comm.run_kernel(comm.enqueue(c)[0], c, stops=False)
    if spec.get("die"):
        os._exit(0)  # no finalize: a rank killed mid-job
    comm.finalize()


def run_rank_process(library: str, folder: Path, spec: dict) -> None:
    """Play one rank (:func:`play`) in a process of its own, so it writes its own ring (the ring folder and job
    come from the environment, as the plugin reads them).
    """
    path = folder / f"spec-{spec['comm_id']:x}-{spec['rank']}.json"
    path.write_text(json.dumps({"library": library, **spec}))
    subprocess.run([sys.executable, __file__, str(path)], check=True, timeout=60)


if __name__ == "__main__":
    with open(sys.argv[1]) as fh:
        play(json.load(fh))
