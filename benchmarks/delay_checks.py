# SPDX-License-Identifier: Apache-2.0
"""Verdicts of the profiler's wait accounting against delays injected on purpose (issue 27's targets).

Why pure functions beside benchmarks/profiler_delays.py: the job runs only on two GPUs, but whether its
figures pass must be decidable (and tested) anywhere. The job writes, per collective call and rank, the
host time (CLOCK_MONOTONIC, shared by a host's processes) just before the call and the CUDA-event time of
the call; the expected wait of a peer is the late rank's call time minus its own (the injected sleep as it
really happened, barrier skew included), measured without the plugin. The plugin's accounting
(:func:`waitbench.profiler.account`) is then judged per cell:

- late rank: the share of instances whose ``late_rank`` is the delayed rank, target >= 99%;
- wait error: each peer's accounted wait minus its expected wait, within max(5%, 50 µs) of the expected
  wait in >= 99% of the peer waits;
- wait share: the peers' accounted waits over their accounted kernel time, within the range the expected
  waits (at their tolerance bounds) give over the peers' CUDA-event times.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from waitbench.profiler.accounting import Accounting, Instance

LATE_SHARE_TARGET = 0.99
WAIT_WITHIN_TARGET = 0.99
WAIT_REL_TOL = 0.05
WAIT_ABS_TOL_NS = 50_000


def tolerance_ns(expected_ns: float) -> float:
    """The issue's bound on a wait's error: max(5% of the expected wait, 50 µs)."""
    return max(WAIT_REL_TOL * abs(expected_ns), WAIT_ABS_TOL_NS)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def index(acc: Accounting) -> dict[tuple[str, int], Instance]:
    """The accounting's instances by (collective, sequence number from its first recorded instance).

    One communicator per job. The job counts each function's calls from 0 (its first call, a warm-up); NCCL's
    own numbering is aligned on the first instance of that function the plugin recorded, so a numbering that
    starts elsewhere still matches.
    """
    first: dict[str, int] = {}
    for i in acc.instances:
        first[i.func] = min(first.get(i.func, i.seq_number), i.seq_number)
    return {(i.func, i.seq_number - first[i.func]): i for i in acc.instances}


def check_cell(calls: Sequence[dict[str, Any]], found: dict[tuple[str, int], Instance]) -> dict[str, Any]:
    """The checks of one cell: its ``calls`` (one per collective instance) against the instances ``found``.

    A call is ``{"func": NCCL name, "seq": NCCL sequence number, "late_rank": int, "delay_ns": intended,
    "call_ns": {rank: host time before the call}, "event_ns": {rank: CUDA-event time of the call}}``.
    An instance the plugin did not record counts against every target.
    """
    late_ok, injected, errors, within, missing = 0, [], [], 0, 0
    exp_sum = lo_sum = hi_sum = event_sum = wait_sum = kernel_sum = 0.0
    for c in calls:
        inst = found.get((c["func"], c["seq"]))
        call_ns = {int(r): v for r, v in c["call_ns"].items()}
        event_ns = {int(r): v for r, v in c["event_ns"].items()}
        late = c["late_rank"]
        peers = [r for r in sorted(call_ns) if r != late]
        injected.extend(call_ns[late] - call_ns[p] for p in peers)
        if inst is None:
            missing += 1
            errors.extend([float("inf")] * len(peers))
            continue
        late_ok += inst.late_rank == late
        for p in peers:
            expected = call_ns[late] - call_ns[p]
            k = inst.ranks.index(p) if p in inst.ranks else None
            if k is None:
                errors.append(float("inf"))
                continue
            got = inst.wait_ns[k]
            err = got - expected
            errors.append(err)
            tol = tolerance_ns(expected)
            within += abs(err) <= tol
            exp_sum += expected
            lo_sum += max(expected - tol, 0)
            hi_sum += expected + tol
            event_sum += event_ns[p]
            wait_sum += got
            kernel_sum += inst.stop_ns[k] - inst.arrival_ns[k]
    n = len(calls)
    n_waits = len(errors)
    finite = [abs(e) for e in errors if e != float("inf")]
    late_share = late_ok / n if n else 0.0
    within_share = within / n_waits if n_waits else 0.0
    share = wait_sum / kernel_sum if kernel_sum > 0 else None
    share_lo = lo_sum / event_sum if event_sum > 0 else None
    share_hi = hi_sum / event_sum if event_sum > 0 else None
    share_ok = share is not None and share_lo is not None and share_lo <= share <= share_hi  # type: ignore[operator]
    return {
        "instances": n, "missing": missing, "late_share": late_share,
        "late_verdict": _verdict(n > 0 and late_share >= LATE_SHARE_TARGET),
        "injected_mean_s": sum(injected) / len(injected) / 1e9 if injected else None,  # host-side, every call
        "wait_abs_error_p50_s": None if not finite else _quantile(finite, 0.5) / 1e9,
        "wait_abs_error_max_s": None if not finite else max(finite) / 1e9,
        "wait_within_share": within_share,
        "wait_verdict": _verdict(n_waits > 0 and within_share >= WAIT_WITHIN_TARGET),
        "wait_share": share, "wait_share_expected": exp_sum / event_sum if event_sum > 0 else None,
        "wait_share_range": [share_lo, share_hi], "wait_share_verdict": _verdict(share_ok),
    }


def check_job(calls: Iterable[dict[str, Any]], acc: Accounting, axes: Sequence[str]) -> list[dict[str, Any]]:
    """One verdict row per cell: calls grouped by their values of ``axes`` (e.g. protocol, collective, size, delay)."""
    cells: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for c in calls:
        cells[tuple(c[a] for a in axes)].append(c)
    found = index(acc)
    return [{**dict(zip(axes, key, strict=True)), **check_cell(group, found)} for key, group in cells.items()]


def protocols_seen(records: Iterable[dict[str, Any]], proto: str) -> dict[str, Any]:
    """Which protocols NCCL used in a job run under ``NCCL_PROTO=proto``: PASS if every record says ``proto``.

    A job whose NCCL ignored the setting did not test what its cells say.
    """
    seen: dict[str, int] = defaultdict(int)
    for r in records:
        seen[str(r.get("proto"))] += 1
    ok = bool(seen) and all(name.lower() == proto.lower() for name in seen)
    return {"seen": dict(seen), "verdict": _verdict(ok)}


def overall(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every cell's verdicts together: the late-rank share over all instances, and the cells that missed."""
    n = sum(r["instances"] for r in rows)
    late = sum(r["late_share"] * r["instances"] for r in rows)
    keys = ("late_verdict", "wait_verdict", "wait_share_verdict")
    misses = [r for r in rows if any(r[k] == "MISS" for k in keys)]
    return {"cells": len(rows), "instances": n, "late_share": late / n if n else 0.0,
            "late_verdict": _verdict(n > 0 and late / n >= LATE_SHARE_TARGET), "cells_missing_a_target": len(misses),
            "verdict": _verdict(bool(rows) and not misses)}
