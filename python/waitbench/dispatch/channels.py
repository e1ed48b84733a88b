# SPDX-License-Identifier: Apache-2.0
"""The hand-off of each transport, inside a rank process: rank 0 sends a request, every rank receives it.

Why behind one interface: the rank loop (:mod:`.ranks`) times every mode the same way. A receive
returns ``(outcome, recv_ns, arrival_ns, cpu_ns, wall_ns, woke_cpu, off_cpu)`` as the ring's C++
wait does; the torch and ZeroMQ transports take the same stamps around their call (their waits run
in torch's and libzmq's C++ with the GIL released; only the stamps are Python's).
Every receive ends by its deadline: the ring's and ZeroMQ's at once on abort, torch's at the process
group's timeout (the parent ends such a rank if it is aborted first).
"""

from __future__ import annotations

import os
import pickle
import resource
import struct
import time
from datetime import timedelta
from typing import Any

RELEASED, EXPIRED, ABORTED = 1, 2, 3  # csrc/protocol.hpp Outcome
ZMQ_POLL_MS = 100  # a ZeroMQ receive looks at the abort word this often
_MSG = struct.Struct("<Iq")


def _switches() -> int:
    return resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw


class Channel:
    """One rank's side of a transport."""

    def send(self, seq: int, arrival_ns: int) -> None:
        """Rank 0: hand request ``seq`` (arrived at ``arrival_ns``) to every rank."""
        raise NotImplementedError

    def recv(self, seq: int) -> tuple[int, ...]:
        """Ranks >= 1: wait for request ``seq``; the stamps of that wait."""
        raise NotImplementedError

    def close(self) -> None:
        """Free what the channel holds."""


class RingChannel(Channel):
    """The shared-memory ring with one of its C++ waits."""

    def __init__(self, ring: Any, wait: Any, param: int, timeout_s: float) -> None:
        self.ring, self.wait, self.param, self.timeout_s = ring, wait, param, timeout_s

    def send(self, seq: int, arrival_ns: int) -> None:
        """See :class:`Channel`."""
        self.ring.publish(seq, arrival_ns)

    def recv(self, seq: int) -> tuple[int, ...]:
        """See :class:`Channel`."""
        return tuple(self.ring.wait(seq, self.wait, self.param, self.timeout_s))


class _Timed(Channel):
    """A transport whose receive is one library call: stamps taken around it."""

    def _receive(self) -> tuple[int, int]:
        raise NotImplementedError

    def recv(self, seq: int) -> tuple[int, ...]:
        """See :class:`Channel`."""
        t0, c0, s0 = time.monotonic_ns(), time.thread_time_ns(), _switches()
        got = self._receive()
        t1 = time.monotonic_ns()
        if got[0] != seq:
            raise RuntimeError(f"received request {got[0]}, expected {seq}")
        return (RELEASED, t1, got[1], time.thread_time_ns() - c0, t1 - t0, -1, _switches() - s0)


class TorchChannel(_Timed):
    """gloo: SGLang's broadcast_pyobj (size, then bytes); nccl: broadcast_object_list on the NCCL group.

    ``entry`` ('mp-barrier', 'host-barrier') is waited on first, as LMDeploy's fix does.
    """

    def __init__(self, backend: str, rank: int, ranks: int, store_path: str, timeout_s: float, *,
                 gpu: int | None = None, entry: str = "none", barrier: Any = None) -> None:
        import torch
        import torch.distributed as dist

        self.torch, self.dist, self.rank, self.timeout_s = torch, dist, rank, timeout_s
        self.entry, self.barrier, self.backend = entry, barrier, backend
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # every rank is on this host
        self.device = torch.device("cuda", gpu) if backend == "nccl" else torch.device("cpu")
        if backend == "nccl":
            torch.cuda.set_device(self.device)
        dist.init_process_group(backend, store=dist.FileStore(store_path, ranks), rank=rank, world_size=ranks,
                                timeout=timedelta(seconds=timeout_s))

    def _entry(self) -> None:
        if self.entry == "mp-barrier":
            self.barrier.wait(self.timeout_s)
        elif self.entry == "host-barrier":
            self.barrier.wait()

    def _broadcast(self, obj: Any) -> Any:
        torch, dist = self.torch, self.dist
        if self.backend == "nccl":
            box = [obj]
            dist.broadcast_object_list(box, src=0, device=self.device)
            return box[0]
        if self.rank == 0:
            data = pickle.dumps(obj)
            dist.broadcast(torch.tensor([len(data)], dtype=torch.long), src=0)
            dist.broadcast(torch.frombuffer(bytearray(data), dtype=torch.uint8), src=0)
            return obj
        size = torch.empty(1, dtype=torch.long)
        dist.broadcast(size, src=0)
        buf = torch.empty(int(size.item()), dtype=torch.uint8)
        dist.broadcast(buf, src=0)
        return pickle.loads(buf.numpy().tobytes())

    def send(self, seq: int, arrival_ns: int) -> None:
        """See :class:`Channel`."""
        self._entry()
        self._broadcast((seq, arrival_ns))

    def _receive(self) -> tuple[int, int]:
        self._entry()
        return self._broadcast(None)

    def close(self) -> None:
        """See :class:`Channel`."""
        self.dist.destroy_process_group()


class ZmqChannel(_Timed):
    """ZeroMQ: rank 0 publishes on an XPUB socket over ipc, the ranks wait in zmq_poll on SUB sockets."""

    def __init__(self, rank: int, ranks: int, path: str, ring: Any, timeout_s: float) -> None:
        import zmq

        self.zmq, self.ring, self.timeout_s = zmq, ring, timeout_s
        self.ctx = zmq.Context()
        if rank == 0:
            self.sock = self.ctx.socket(zmq.XPUB)
            self.sock.setsockopt(zmq.XPUB_VERBOSE, 1)  # every subscription, not only the first of a topic
            self.sock.bind(f"ipc://{path}")
            self._await_subscribers(ranks - 1)
        else:
            self.sock = self.ctx.socket(zmq.SUB)
            self.sock.setsockopt(zmq.SUBSCRIBE, b"")
            self.sock.connect(f"ipc://{path}")
        self.poller = zmq.Poller()
        self.poller.register(self.sock, zmq.POLLIN)

    def _await_subscribers(self, n: int) -> None:
        """Until every SUB socket has subscribed (a PUB socket drops what it sends before that)."""
        limit = time.monotonic() + self.timeout_s
        seen = 0
        while seen < n:
            if time.monotonic() > limit:
                raise TimeoutError(f"{n - seen} ZeroMQ subscriber(s) did not connect within {self.timeout_s:g} s")
            if self.sock.poll(ZMQ_POLL_MS, self.zmq.POLLIN):
                seen += self.sock.recv()[:1] == b"\x01"

    def send(self, seq: int, arrival_ns: int) -> None:
        """See :class:`Channel`."""
        self.sock.send(_MSG.pack(seq, arrival_ns))

    def _receive(self) -> tuple[int, int]:
        limit = time.monotonic() + self.timeout_s
        while not self.poller.poll(ZMQ_POLL_MS):
            if self.ring.aborted:
                raise InterruptedError("aborted")
            if time.monotonic() > limit:
                raise TimeoutError(f"no request within {self.timeout_s:g} s")
        return _MSG.unpack(self.sock.recv())

    def close(self) -> None:
        """See :class:`Channel`."""
        self.sock.close(linger=0)
        self.ctx.term()
