# SPDX-License-Identifier: Apache-2.0
"""Emulation beside reality: the emulated stand-in of each real NCCL wait, and how far the two disagree.

Each stand-in is measured on the same GPU in the same run.

Why derived from what NCCL launched rather than a fixed preset: the kernel NCCL picks depends on the
protocol, the message size, the channel count and the topology, so the stand-in is built from the
real kernel's launch shape as the profiler saw it (grid = channels, block, registers, shared
memory) and its protocol (asked for, or implied by the block size): ``spin`` with that shape, pollers as that
protocol polls, each poller on its own line of device memory (over NVLink a peer writes into our
device memory). Pollers per block: one for Simple (a thread per peer); for LL and LL128 the threads
that own a line of the message (LL carries 8 data bytes per 16-byte line, LL128 120 per 128-byte
line read by 8 threads), at least one, at most the block: an estimate, which this comparison tests.

Run by ``waitbench nccl --emulate`` in a child process of its own after the real modes:
``python -m waitbench.nccl.emulate --gpu G --out FILE --cells JSON``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

REGISTER_VARIANTS = (32, 64, 96, 128)  # the spin kernel's compiled register limits (strategies.py)
MAX_SMEM_BYTES = 232448
DIFF_FLAG = 0.05  # a gap of more than this (ratio, or fraction of 100%) between emulation and reality is named


# Threads per block of NCCL's kernels by protocol (src/device, src/enqueue.cc): Simple launches 512 + one
# sync warp, LL 512, LL128 640; small messages launch fewer threads, which say nothing of the protocol.
# The kernel's name does not say it either: NCCL 2.28 names its kernels after one specialisation
# (``..._RING_LL``) and runs the protocol of the work it is given (seen on two H200s: Simple and LL128
# work in kernels named ``RING_LL``).
_THREADS_PROTOCOL = {544: "Simple", 512: "LL", 640: "LL128"}


def kernel_protocol(threads: int, asked: str | None) -> str | None:
    """The protocol a kernel ran: the one asked for (NCCL_PROTO), else the one its block size implies, else None."""
    return asked or _THREADS_PROTOCOL.get(threads)


def pollers(protocol: str | None, threads: int, blocks: int, message_bytes: int) -> int:
    """Polling threads per block for ``protocol`` (see the module docstring)."""
    if protocol == "LL":
        lines = math.ceil(message_bytes / max(blocks, 1) / 8)
    elif protocol == "LL128":
        lines = 8 * math.ceil(message_bytes / max(blocks, 1) / 120)
    else:
        return 1
    return max(1, min(threads, lines))


def spin_options(rec: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """``spin`` options that stand for the NCCL kernel of a waiting rank's record, or (None, why not)."""
    blocks, threads = rec.get("waiter_blocks"), rec.get("waiter_threads")
    if not blocks or not threads:
        return None, rec.get("null_reasons", {}).get("waiter_blocks", "no NCCL kernel shape in the record")
    if threads % 32 or threads > 1024:
        return None, f"the NCCL kernel's block of {threads} threads is not a whole number of warps up to 1024"
    kernel = rec.get("extra", {}).get("nccl_kernel")
    proto = kernel_protocol(int(threads), rec.get("protocol"))
    regs = int(rec.get("waiter_regs_per_thread") or 96)
    opts = {
        "blocks": int(blocks), "threads": int(threads),
        "pollers": pollers(proto, int(threads), int(blocks), int(rec.get("message_bytes") or 4)),
        "registers": max([r for r in REGISTER_VARIANTS if r <= regs] or [REGISTER_VARIANTS[0]]),
        "smem_bytes": min(int(rec.get("waiter_smem_bytes") or 0), MAX_SMEM_BYTES),
        "flag": "device", "flag_lines": "per-poller",
    }
    return opts, f"{proto or 'unknown protocol'} kernel {kernel}"


def cell_key(rec: dict[str, Any]) -> str:
    """The real cell a record belongs to: mode, protocol asked, collective, size."""
    return f"{rec['strategy']}/{rec.get('protocol') or 'auto'}/{rec['collective']}/{rec.get('message_bytes')}B"


def plan(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One emulation per distinct stand-in, from the waiting ranks' ok records.

    Each is ``{"options", "stands_for", "why"}`` (why: the kernel it was derived from).
    """
    out: dict[str, dict[str, Any]] = {}
    for rec in records:
        if rec.get("record_kind") != "nccl" or rec.get("role") != "waiting" or rec.get("status") != "ok" \
                or rec.get("side_call"):
            continue
        opts, why = spin_options(rec)
        if opts is None:
            continue
        key = json.dumps(opts, sort_keys=True)
        entry = out.setdefault(key, {"options": opts, "stands_for": [], "why": why})
        if cell_key(rec) not in entry["stands_for"]:
            entry["stands_for"].append(cell_key(rec))
    return list(out.values())


def run(gpu: int, out: str, cells: Sequence[dict[str, Any]], run_id: str | None = None) -> int:
    """Measure each planned stand-in with the single-GPU runner (quick settings, fma and gemm) into ``out``."""
    from ..results import ResultsWriter
    from ..runner import Session, Settings

    written = 0
    with ResultsWriter(out) as writer, Session(gpu, ("fma", "gemm"), Settings.quick(), run_id=run_id) as session:
        for cell in cells:
            for rec in session.measure("spin", **cell["options"]):
                rec["extra"] = {**(rec.get("extra") or {}), "emulates": "nccl", "stands_for": cell["stands_for"],
                                "derived_from": cell["why"]}
                writer.write(rec)
                written += 1
    return written


def _first(recs: Sequence[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((r for r in recs if all(r.get(k) == v for k, v in match.items())), None)


def _pct_gap(real: float | None, emulated: float | None) -> float | None:
    return None if real is None or emulated is None else (emulated - real) / 100.0


def _gap(real: float | None, emulated: float | None) -> float | None:
    return None if real is None or emulated is None else emulated - real


def compare_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per real cell (its waiting rank): reality beside its stand-in, the gaps, and those over DIFF_FLAG.

    Gaps are emulated minus real: utilization and SM activity as fractions of 100%, throughput ratios
    as they are. Cells whose stand-in was not measured are left out.
    """
    real = [r for r in records if r.get("record_kind") == "nccl" and r.get("role") == "waiting"
            and r.get("status") in ("ok", "stalled") and not r.get("side_call")]
    emulated = [r for r in records if (r.get("extra") or {}).get("emulates") == "nccl"]
    rows = []
    for key in dict.fromkeys(cell_key(r) for r in real):
        cell = [r for r in real if cell_key(r) == key]
        stand = [r for r in emulated if key in r["extra"]["stands_for"]]
        waiter = _first(stand, record_kind="waiter")
        if waiter is None:
            continue
        row: dict[str, Any] = {"cell": key, "kernel": cell[0].get("extra", {}).get("nccl_kernel"),
                               "grid": cell[0].get("waiter_blocks"), "block": cell[0].get("waiter_threads"),
                               "stand_in": {k: waiter["options"][k] for k in ("blocks", "threads", "pollers")}}
        for name, real_v, emu_v, gap in (
                ("nvml_util_pct", cell[0].get("nvml_util_pct"), waiter.get("nvml_util_pct"), _pct_gap),
                ("gpm_sm_util_pct", cell[0].get("gpm_sm_util_pct"), waiter.get("gpm_sm_util_pct"), _pct_gap),
                *((f"{w}_tput_ratio", (_first(cell, workload=w) or {}).get("tput_ratio"),
                   (_first(stand, record_kind="workload", workload=w) or {}).get("tput_ratio"), _gap)
                  for w in ("fma", "gemm"))):
            row[name] = {"real": real_v, "emulated": emu_v, "gap": gap(real_v, emu_v)}
        row["wake_us"] = {"real_p50": cell[0].get("wake_rtt_p50_us"), "real_aligned_p50": cell[0].get(
            "wake_floor_rtt_p50_us"), "emulated_rtt_p50": waiter.get("wake_rtt_p50_us")}
        row["over"] = [n for n, v in row.items() if isinstance(v, dict) and v.get("gap") is not None
                       and abs(v["gap"]) > DIFF_FLAG]
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Measure the stand-ins of the cells given on the command line (the emulation child's entry)."""
    ap = argparse.ArgumentParser(description="Measure the emulated stand-ins of real NCCL waits (waitbench nccl).")
    ap.add_argument("--gpu", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cells", required=True, help="JSON list from waitbench.nccl.emulate.plan()")
    ap.add_argument("--run-id")
    args = ap.parse_args(argv)
    n = run(args.gpu, args.out, json.loads(args.cells), args.run_id)
    print(json.dumps({"records": n}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
