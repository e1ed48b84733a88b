# SPDX-License-Identifier: Apache-2.0
"""The libraries that issue the collective: torch.distributed (NCCL or gloo) and cupy.cuda.nccl.

Why one small interface (``enter`` / ``complete`` / ``check``): the scenario times the same three
moments whatever the library: when a rank reaches the collective (``enter`` returns as soon as the
library lets the calling thread go: at once for asynchronous NCCL, at completion for gloo or a
blocking wait), when the collective has completed on this rank (``complete``), and whether the
result is right (``check``). Expected results: rank r contributes r + 1 everywhere.

The NCCL collective runs on a stream of its own, created non-blocking: torch makes the *current*
stream wait for the NCCL stream, and if that were the legacy default stream, every blocking stream
(a concurrent workload's, say) would queue behind the waiting collective and read as stalled.

Protocols: NCCL reads ``NCCL_PROTO`` when a communicator is created (``ncclGetEnv`` in
src/graph/tuning.cc, not a cached ``NCCL_PARAM``), so each protocol of a run gets a communicator of
its own, created with the variable set; the kernel names the profiler sees (``..._RING_LL``) confirm it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from .config import Cell
from .modes import Mode


@contextmanager
def protocol_env(protocol: str | None) -> Iterator[None]:
    """``NCCL_PROTO`` set to ``protocol`` (unset for None: NCCL's choice) while a communicator is made."""
    saved = os.environ.get("NCCL_PROTO")
    if protocol is None:
        os.environ.pop("NCCL_PROTO", None)
    else:
        os.environ["NCCL_PROTO"] = protocol
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("NCCL_PROTO", None)
        else:
            os.environ["NCCL_PROTO"] = saved


class Client:
    """What the scenario needs from a library; barriers go through torch.distributed's gloo."""

    def __init__(self, mode: Mode, *, rank: int, world_size: int, root: int, collective: str = "all_reduce") -> None:
        import torch.distributed as dist

        self._dist = dist
        self._gloo: Any = None  # the gloo group of host barriers (None: the default group is gloo)
        self.mode, self.collective, self.rank, self.world_size, self.root = mode, collective, rank, world_size, root
        self.cell: Cell | None = None

    def host_barrier(self) -> None:
        """A barrier that never touches the GPU (gloo), to line the ranks up before a measurement."""
        self._dist.barrier(group=self._gloo)

    def _entry_barrier(self) -> None:
        """The mode's barrier before the collective.

        gloo for 'host-barrier', the collective's group for 'dist-barrier' (on NCCL itself a GPU all-reduce).
        """
        if self.mode.entry == "host-barrier":
            self._dist.barrier(group=self._gloo)
        elif self.mode.entry == "dist-barrier":
            self._dist.barrier()

    def nccl_version(self) -> str | None:
        """The NCCL version the library loaded ('2.28.9'), or None (gloo)."""
        return None

    def bind_thread(self) -> None:
        """Make this rank's GPU current in the calling thread (CUDA's current device is per thread)."""

    def set_cell(self, cell: Cell) -> None:
        """Use ``cell``'s protocol, collective and message size.

        A communicator per protocol is made on first use; every rank must call this in the same order.
        """
        self.cell, self.collective = cell, cell.collective

    def prepare(self) -> None:
        """Fill the input with this rank's value and wait for it, outside any timed window."""
        raise NotImplementedError

    def enter(self) -> None:
        """Reach the collective (each client implements it)."""
        raise NotImplementedError

    def complete(self) -> None:
        """Block until the collective has completed on this rank."""

    def check(self) -> bool:
        """Whether the collective produced the expected values (a wrong result is an error record)."""
        raise NotImplementedError

    def close(self) -> None:
        """Destroy the process groups."""
        self._dist.destroy_process_group()


class TorchClient(Client):
    """torch.distributed: the collective on ``backend`` ('nccl' on GPU ``gpu``, or 'gloo' on CPU)."""

    def __init__(self, mode: Mode, *, backend: str, store: Any, rank: int, world_size: int,
                 gpu: int | None, root: int, timeout_s: float) -> None:
        super().__init__(mode, rank=rank, world_size=world_size, root=root)
        import torch

        dist, self._torch = self._dist, torch
        on_gpu = backend == "nccl"
        if on_gpu and gpu is None:
            raise ValueError("gpu=None is invalid: expected a CUDA device index for the nccl backend")
        self.device = torch.device("cuda", gpu) if gpu is not None and on_gpu else torch.device("cpu")
        kwargs: dict[str, Any] = {}
        if on_gpu:
            torch.cuda.set_device(self.device)
            kwargs["device_id"] = self.device  # eager NCCL init, and the device barrier() uses
        dist.init_process_group(backend, store=dist.PrefixStore("pg/", store), rank=rank, world_size=world_size,
                                timeout=timedelta(seconds=timeout_s), **kwargs)
        self._gloo = dist.new_group(backend="gloo") if backend != "gloo" else None
        self._stream = torch.cuda.Stream(self.device) if on_gpu else None
        self._groups: dict[str | None, Any] = {}  # a communicator per protocol (NCCL only)
        self._group: Any = None  # the current cell's; None: the default group
        self._event: Any = None
        self._buf = self._out = torch.empty(0)

    def set_cell(self, cell: Cell) -> None:
        """Use ``cell``'s buffers and, on GPUs, the communicator of its protocol (made and connected once)."""
        super().set_cell(cell)
        torch = self._torch
        if self._stream is not None:
            if cell.protocol not in self._groups:
                with protocol_env(cell.protocol):
                    group = self._dist.new_group(backend="nccl")
                    # the communicator exists after its first collective
                    self._dist.all_reduce(torch.zeros(1, device=self.device), group=group)
                    torch.cuda.synchronize(self.device)
                self._groups[cell.protocol] = group
            self._group = self._groups[cell.protocol]
        self._buf = torch.empty(cell.numel, dtype=torch.float32, device=self.device)
        self._out = torch.empty(cell.numel * self.world_size, dtype=torch.float32, device=self.device)

    def nccl_version(self) -> str | None:
        """The NCCL version torch loaded, e.g. '2.28.9' (None for gloo)."""
        if self._stream is None:
            return None
        version = self._torch.cuda.nccl.version()  # (major, minor, patch[, suffix])
        return ".".join(str(v) for v in version[:3]) + "".join(f"-{v}" for v in version[3:])

    def bind_thread(self) -> None:
        """Make this rank's GPU current in the calling thread."""
        if self._stream is not None:
            self._torch.cuda.set_device(self.device)

    def prepare(self) -> None:
        """Fill the buffer with this rank's values, and wait for the GPU."""
        self._buf.fill_(float(self.rank + 1))
        if self._stream is not None:
            self._torch.cuda.synchronize(self.device)

    def enter(self) -> None:
        """Call the collective (after the mode's entry barrier); on GPUs it returns once enqueued."""
        self._entry_barrier()
        if self._stream is None:
            self._call()
            return
        torch = self._torch
        with torch.cuda.stream(self._stream):
            self._call()
            self._event = torch.cuda.Event()
            self._event.record(self._stream)

    def _call(self) -> None:
        dist, group = self._dist, self._group
        if self.collective == "all_reduce":
            dist.all_reduce(self._buf, group=group)
        elif self.collective == "broadcast":
            dist.broadcast(self._buf, src=self.root, group=group)
        else:  # all_gather; all_gather_single replaces all_gather_into_tensor in newer torch
            gather = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor
            gather(self._out, self._buf, group=group)

    def complete(self) -> None:
        """Wait until the collective has completed."""
        if self._event is not None:
            self._event.synchronize()

    def check(self) -> bool:
        """True when the buffer holds what the collective must leave there."""
        torch, n = self._torch, self.world_size
        if self.collective == "all_reduce":
            return bool(torch.all(self._buf == n * (n + 1) / 2).item())
        if self.collective == "broadcast":
            return bool(torch.all(self._buf == float(self.root + 1)).item())
        expected = torch.arange(1, n + 1, dtype=torch.float32, device=self.device).repeat_interleave(self._buf.numel())
        return bool(torch.equal(self._out, expected))


class CupyClient(Client):
    """cupy.cuda.nccl issues the collective; torch.distributed (gloo) carries only barriers."""

    def __init__(self, mode: Mode, *, backend: str, store: Any, rank: int, world_size: int,
                 gpu: int | None, root: int, timeout_s: float) -> None:
        super().__init__(mode, rank=rank, world_size=world_size, root=root)
        if backend != "nccl" or gpu is None:
            raise ValueError(f"backend={backend!r} is invalid: expected 'nccl' and a GPU for cupy-nccl")
        import cupy
        from cupy.cuda import nccl

        self._cp, self._nccl, self._gpu = cupy, nccl, gpu
        self._store, self._timeout_s = store, timeout_s
        cupy.cuda.Device(gpu).use()
        self._dist.init_process_group("gloo", store=self._dist.PrefixStore("pg/", store), rank=rank,
                                      world_size=world_size, timeout=timedelta(seconds=timeout_s))
        self._comms: dict[str | None, Any] = {}  # a communicator per protocol
        self._comm: Any = None
        self._stream = cupy.cuda.Stream(non_blocking=True)
        self._buf = self._out = cupy.empty(0, dtype=cupy.float32)

    def _new_comm(self, protocol: str | None) -> Any:
        """A communicator; NCCL's unique id travels through the store as hex (cupy 13+ takes bytes)."""
        key = f"cupy_uid/{protocol or 'auto'}"
        if self.rank == 0:
            uid = self._nccl.get_unique_id()
            raw = bytes(uid) if isinstance(uid, (bytes, bytearray)) else bytes(int(b) & 0xFF for b in uid)
            self._store.set(key, raw.hex())
        self._store.wait([key], timedelta(seconds=self._timeout_s))
        value = self._store.get(key)
        raw = bytes.fromhex(value.decode() if isinstance(value, bytes) else value)
        with protocol_env(protocol):
            try:
                return self._nccl.NcclCommunicator(self.world_size, raw, self.rank)
            except TypeError:  # cupy before 13 takes the id as a tuple of signed chars
                signed = tuple(b - 256 if b > 127 else b for b in raw)
                return self._nccl.NcclCommunicator(self.world_size, signed, self.rank)

    def set_cell(self, cell: Cell) -> None:
        """Use ``cell``'s buffers and the NCCL communicator of its protocol (made once)."""
        super().set_cell(cell)
        cp = self._cp
        if cell.protocol not in self._comms:
            self._comms[cell.protocol] = self._new_comm(cell.protocol)
        self._comm = self._comms[cell.protocol]
        self._buf = cp.empty(cell.numel, dtype=cp.float32)
        self._out = cp.empty(cell.numel * self.world_size, dtype=cp.float32)

    def nccl_version(self) -> str | None:
        """The NCCL version cupy loaded, e.g. '2.28.9'."""
        code = int(self._nccl.get_version())  # 2.9+: major*10000 + minor*100 + patch
        return f"{code // 10000}.{code // 100 % 100}.{code % 100}"

    def bind_thread(self) -> None:
        """Make this rank's GPU current in the calling thread."""
        self._cp.cuda.Device(self._gpu).use()

    def prepare(self) -> None:
        """Fill the buffer with this rank's values, and wait for the GPU."""
        self._buf.fill(float(self.rank + 1))
        self._cp.cuda.Device(self._gpu).synchronize()

    def enter(self) -> None:
        """Enqueue the collective on the rank's stream (after the mode's entry barrier)."""
        self._entry_barrier()
        nccl, buf, out, s = self._nccl, self._buf, self._out, self._stream.ptr
        if self.collective == "all_reduce":
            self._comm.allReduce(buf.data.ptr, buf.data.ptr, buf.size, nccl.NCCL_FLOAT32, nccl.NCCL_SUM, s)
        elif self.collective == "broadcast":
            self._comm.broadcast(buf.data.ptr, buf.data.ptr, buf.size, nccl.NCCL_FLOAT32, self.root, s)
        else:
            self._comm.allGather(buf.data.ptr, out.data.ptr, buf.size, nccl.NCCL_FLOAT32, s)

    def complete(self) -> None:
        """Wait until the collective has completed."""
        self._stream.synchronize()

    def check(self) -> bool:
        """True when the buffer holds what the collective must leave there."""
        cp, n = self._cp, self.world_size
        if self.collective == "all_reduce":
            return bool(cp.all(self._buf == n * (n + 1) / 2))
        if self.collective == "broadcast":
            return bool(cp.all(self._buf == float(self.root + 1)))
        expected = cp.repeat(cp.arange(1, n + 1, dtype=cp.float32), self._buf.size)
        return bool(cp.array_equal(self._out, expected))

    def close(self) -> None:
        """Destroy the NCCL communicators, then the process groups."""
        for comm in self._comms.values():
            comm.destroy()
        super().close()


def make_client(mode: Mode, **kwargs: Any) -> Client:
    """The client ``mode`` names, with its process group initialised."""
    return (CupyClient if mode.client == "cupy" else TorchClient)(mode, **kwargs)
