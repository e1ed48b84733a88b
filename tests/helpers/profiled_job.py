# SPDX-License-Identifier: Apache-2.0
"""A SYNTHETIC NCCL job with one late rank, written by the real profiler plugin through the fake NCCL host.

Every rank of the job is a communicator of one fake host (one process, one ring): each collective starts on
the late rank ``late_ns`` after the others and ends on every rank ``transfer_ns`` after that, on a synthetic
GPU clock. So each other rank waits exactly ``late_ns`` per collective, and its kernel time is
``late_ns + transfer_ns``: figures a test can check exactly. Not a measurement.
"""

from __future__ import annotations

from collections.abc import Sequence

from helpers.fake_nccl_host import Collective, FakeComm

MS = 1_000_000
BASE_NS = 1_700_000_000 * 10**9  # a synthetic %globaltimer reading (about Unix time, as on the hosts seen)
JOB_COMM = 0x5EED


def late_collectives(ranks: Sequence[FakeComm], func: str, n: int, *, late_rank: int, late_ns: int,
                     transfer_ns: int = MS, start_ns: int = BASE_NS, period_ns: int = 100 * MS) -> int:
    """Play ``n`` collectives of ``func`` on every rank, ``late_rank`` late by ``late_ns``; returns the end time."""
    for i in range(n):
        t = start_ns + i * period_ns
        for comm in ranks:
            arrival = t + (late_ns if comm.rank == late_rank else 0)
            comm.collective(Collective(func, [arrival, arrival], [t + late_ns + transfer_ns] * 2))
    return start_ns + n * period_ns
