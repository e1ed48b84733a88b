# SPDX-License-Identifier: Apache-2.0
"""Known delays, found: a torch/NCCL job under the profiler plugin, one rank made late on purpose.

    python3 benchmarks/profiler_delays.py OUTDIR [--protos LL,LL128,Simple] [--collectives all_reduce,...]
        [--sizes 8,256MiB] [--delays-ms 1,10,100,1000] [--late-rank 1] [--ranks N]

One fresh job per protocol (``NCCL_PROTO`` is read at a communicator's init), one rank per GPU. Before
every collective all ranks synchronise their GPU and meet at a host barrier (with a deadline); then the
late rank sleeps the cell's delay on the host and every rank calls the collective, noting its host time
(CLOCK_MONOTONIC) just before the call and the call's CUDA-event time. The broadcast's root is the late
rank (the seed report's case: the rank that receives requests). Sizes are bytes per rank's input.
Repetitions per delay: ``--cell-s`` seconds of sleep, clamped to [--min-reps, --max-reps].

While each job runs, the plugin's exporter (:class:`waitbench.profiler.collector.ProfilerCollector`) is
served on localhost and scraped over HTTP. Written to OUTDIR: ``profiler_delays.jsonl`` (the recording,
through ``waitbench profiler collect``), ``profiler_delays.json`` (settings, per-cell checks with PASS/MISS
verdicts from benchmarks/delay_checks.py, the scrapes' verdicts), ``exporter-<proto>.txt`` (the scrape).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import delay_checks  # beside this script

SAFE_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}
for _k, _v in SAFE_ENV.items():  # NVLink multicast stays off, in every child too
    os.environ.setdefault(_k, _v)

AXES = ("proto", "collective", "size", "delay_ms")
COLLECTIVES = {"all_reduce": "AllReduce", "broadcast": "Broadcast", "all_gather": "AllGather"}
PROTOS = ("LL", "LL128", "Simple")
UNITS = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "": 1}
WARMUP = 5
JOB_START_S = 20  # a job's spawn, CUDA and NCCL init
CALL_BYTES_PER_S = 10e9


def _size(text: str) -> int:
    for unit in ("KiB", "MiB", "GiB", ""):
        if text.endswith(unit) and text[:len(text) - len(unit)].isdigit():
            return int(text[:len(text) - len(unit)]) * UNITS[unit]
    raise ValueError(f"--sizes: {text!r} is invalid: expected bytes, optionally with KiB, MiB or GiB")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The arguments, every one checked (ValueError naming it) before any process starts."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path, help="folder for the recording and the checks")
    p.add_argument("--protos", default=",".join(PROTOS), help="NCCL_PROTO values, comma-separated")
    p.add_argument("--collectives", default=",".join(COLLECTIVES), help="collectives, comma-separated")
    p.add_argument("--sizes", default="8,256MiB", help="bytes per rank, comma-separated (KiB/MiB/GiB)")
    p.add_argument("--delays-ms", default="1,10,100,1000", help="host sleeps of the late rank, ms")
    p.add_argument("--late-rank", type=int, default=1, help="the delayed rank (default: 1)")
    p.add_argument("--ranks", type=int, default=None, help="ranks, one per GPU (default: every GPU)")
    p.add_argument("--cell-s", type=float, default=1.0, help="seconds of sleep per cell (default: 1)")
    p.add_argument("--min-reps", type=int, default=5, help="least instances per cell (default: 5)")
    p.add_argument("--max-reps", type=int, default=100, help="most instances per cell (default: 100)")
    p.add_argument("--max-s", type=float, default=480, help="refuse a grid estimated longer (default: 480 s)")
    p.add_argument("--timeout-s", type=float, default=60, help="deadline of every barrier wait (default: 60)")
    p.add_argument("--backend", choices=("nccl", "gloo"), default="nccl",
                   help="gloo: a CPU dry run of the job (no NCCL: the plugin records nothing, every cell misses)")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        return a
    a.protos = [v for v in a.protos.split(",") if v]
    a.collectives = [v for v in a.collectives.split(",") if v]
    a.sizes = [_size(v) for v in a.sizes.split(",") if v]
    for name, values, valid in (("protos", a.protos, PROTOS), ("collectives", a.collectives, tuple(COLLECTIVES))):
        bad = [v for v in values if v not in valid] or ([] if values else [""])
        if bad:
            raise ValueError(f"--{name}={bad[0]!r} is invalid: expected a comma-separated list of {', '.join(valid)}")
    if not a.sizes or any(not 4 <= s <= 1 << 30 or s % 4 for s in a.sizes):
        raise ValueError(f"--sizes={a.sizes} is invalid: expected multiples of 4 bytes in [4, 1 GiB]")
    try:
        a.delays_ms = [float(v) for v in a.delays_ms.split(",") if v]
    except ValueError:
        raise ValueError(f"--delays-ms={a.delays_ms!r} is invalid: expected numbers of ms") from None
    if not a.delays_ms or any(not 0 < d <= 10_000 for d in a.delays_ms):
        raise ValueError(f"--delays-ms={a.delays_ms} is invalid: expected values in (0, 10000] ms")
    if not 1 <= a.min_reps <= a.max_reps <= 100_000:
        raise ValueError(f"--min-reps={a.min_reps}, --max-reps={a.max_reps}: expected 1 <= min <= max <= 100000")
    for name in ("cell_s", "max_s", "timeout_s"):
        if not 0 < getattr(a, name) <= 3600:
            raise ValueError(f"--{name.replace('_', '-')}={getattr(a, name)} is invalid: expected (0, 3600] s")
    if a.ranks is not None and not 2 <= a.ranks <= 64:
        raise ValueError(f"--ranks={a.ranks} is invalid: expected 2 to 64 (one GPU per rank)")
    if not 0 <= a.late_rank < (a.ranks or 64):
        raise ValueError(f"--late-rank={a.late_rank} is invalid: expected a rank in [0, {(a.ranks or 64) - 1}]")
    return a


def reps_for(delay_ms: float, a: argparse.Namespace) -> int:
    """Instances of a cell: ``--cell-s`` of sleep, clamped to [--min-reps, --max-reps]."""
    return max(a.min_reps, min(a.max_reps, round(a.cell_s * 1000 / delay_ms)))


def estimate_s(a: argparse.Namespace, world: int) -> float:
    """Seconds the grid takes: sleeps, calls (1 ms + bytes at an LL-like 10 GB/s, slow side), job starts."""
    per = sum((reps_for(d, a) + WARMUP / len(a.delays_ms)) * (d / 1000 + 1e-3 + size * world / CALL_BYTES_PER_S)
              for d in a.delays_ms for size in a.sizes) * len(a.collectives)
    return len(a.protos) * (per + JOB_START_S)


def _pdeathsig() -> None:
    import ctypes
    import signal

    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the parent


def _call(dist: Any, coll: str, x: Any, y: Any, root: int) -> None:
    if coll == "all_reduce":
        dist.all_reduce(x)
    elif coll == "broadcast":
        dist.broadcast(x, src=root)
    else:
        dist.all_gather_into_tensor(y, x)


def rank_main(rank: int, spec: dict[str, Any], barrier: Any) -> None:
    """One rank: for every cell, barrier, the late rank sleeps, everyone calls; the calls go to a JSON file."""
    _pdeathsig()
    import torch
    import torch.distributed as dist

    world, late, timeout = spec["world"], spec["late_rank"], spec["timeout_s"]
    cpu = spec["backend"] == "gloo"  # the CPU dry run: host clocks only
    if not cpu:
        torch.cuda.set_device(rank)
    dist.init_process_group(spec["backend"], init_method=f"file://{spec['store']}", rank=rank, world_size=world,
                            device_id=None if cpu else torch.device("cuda", rank))
    seq: dict[str, int] = {}
    calls: list[dict[str, Any]] = []
    dev = "cpu" if cpu else "cuda"
    start, stop = (None, None) if cpu else (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
    try:
        for coll in spec["collectives"]:
            for size in spec["sizes"]:
                x = torch.ones(size // 4, dtype=torch.float32, device=dev)
                y = torch.empty(world * (size // 4), dtype=torch.float32, device=dev) if coll == "all_gather" else x
                func = COLLECTIVES[coll]
                for k, delay_ms in [(None, 0.0)] * WARMUP + [(d, d) for d in spec["delays_ms"]
                                                             for _ in range(spec["reps"][str(d)])]:
                    if not cpu:
                        torch.cuda.synchronize()
                    barrier.wait(timeout=timeout)
                    if rank == late and delay_ms:
                        time.sleep(delay_ms / 1000)
                    t = time.monotonic_ns()
                    if cpu:
                        _call(dist, coll, x, y, late)
                        elapsed = time.monotonic_ns() - t
                    else:
                        start.record()
                        _call(dist, coll, x, y, late)
                        stop.record()
                        stop.synchronize()
                        elapsed = int(start.elapsed_time(stop) * 1e6)
                    n = seq.get(func, 0)
                    seq[func] = n + 1
                    if k is not None:
                        calls.append({"proto": spec["proto"], "collective": coll, "size": size, "delay_ms": delay_ms,
                                      "func": func, "seq": n, "rank": rank, "late_rank": late, "call_ns": t,
                                      "event_ns": elapsed})
        Path(spec["calls"]).with_suffix(f".{rank}.json").write_text(json.dumps(calls))
    finally:
        dist.destroy_process_group()


def child(spec_path: Path) -> None:
    """The job: one rank per GPU (torch's spawn joins them; they die with this process)."""
    _pdeathsig()
    import torch.multiprocessing as mp

    spec = json.loads(spec_path.read_text())
    barrier = mp.get_context("spawn").Barrier(spec["world"])
    mp.start_processes(rank_main, args=(spec, barrier), nprocs=spec["world"], join=True, start_method="spawn")


def merge_calls(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-rank call rows -> one call per instance, with each rank's host call time and CUDA-event time."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for r in rows:
        c = out.setdefault((r["func"], r["seq"]), {k: r[k] for k in (*AXES, "func", "seq", "late_rank")} | {
            "call_ns": {}, "event_ns": {}})
        c["call_ns"][str(r["rank"])] = r["call_ns"]
        c["event_ns"][str(r["rank"])] = r["event_ns"]
    return list(out.values())


def late_in_scrape(text: str) -> dict[str, float]:
    """``waitbench_nccl_late_total`` per rank in an exporter scrape (summed over communicators)."""
    from prometheus_client.parser import text_string_to_metric_families

    late: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == "waitbench_nccl_late_total":
                late[s.labels["rank"]] = late.get(s.labels["rank"], 0) + s.value
    return late


def run_job(a: argparse.Namespace, proto: str, world: int, ring_dir: str, job: str, tmp: Path) -> tuple[list, str]:
    """One protocol's job under the plugin, scraped over HTTP while it runs; its calls and the last scrape."""
    import urllib.request

    from prometheus_client import CollectorRegistry, start_http_server

    from waitbench.profiler.collector import ProfilerCollector
    from waitbench.profiler.library import env_vars

    spec = {"backend": a.backend, "world": world, "late_rank": a.late_rank, "timeout_s": a.timeout_s, "proto": proto,
            "collectives": a.collectives, "sizes": a.sizes, "delays_ms": a.delays_ms,
            "reps": {str(d): reps_for(d, a) for d in a.delays_ms}, "store": str(tmp / f"store-{proto}"),
            "calls": str(tmp / f"calls-{proto}")}
    (tmp / f"spec-{proto}.json").write_text(json.dumps(spec))
    registry = CollectorRegistry()
    registry.register(ProfilerCollector(ring_dir, job))
    server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    env = {**os.environ, **SAFE_ENV, **env_vars(job, ring_dir, entries=1 << 18), "NCCL_PROTO": proto}
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(tmp / f"spec-{proto}.json"), "x"], env=env,
                            preexec_fn=_pdeathsig)
    scrape, url = "", f"http://127.0.0.1:{server.server_port}/metrics"
    deadline = time.monotonic() + estimate_s(a, world) / len(a.protos) * 2 + 120
    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {proto} job ran past its deadline")
            time.sleep(2)
            with urllib.request.urlopen(url, timeout=10) as resp:  # localhost
                scrape = resp.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        server.shutdown()
    if proc.returncode:
        raise RuntimeError(f"the {proto} job exited with {proc.returncode}")
    rows = [r for f in tmp.glob(f"calls-{proto}.*.json") for r in json.loads(f.read_text())]
    return merge_calls(rows), scrape


def write_result(a: argparse.Namespace, world: int, rows: list, scrapes: dict, errors: dict, protos: dict,
                 torch: Any) -> dict:
    """The checks so far to OUTDIR/profiler_delays.json (after every protocol: a job cut short keeps the others)."""
    result = {"settings": {k: v for k, v in vars(a).items() if k not in ("out", "child")} | {
                  "world": world, "axes": AXES,
                  "gpu_name": torch.cuda.get_device_name(0) if a.backend == "nccl" else "none (gloo dry run)",
                  "nccl_version": ".".join(map(str, torch.cuda.nccl.version())) if a.backend == "nccl" else None},
              "cells": rows, "overall": delay_checks.overall(rows), "exporter": scrapes, "job_errors": errors,
              "protocols": protos}
    if errors or any(v["verdict"] == "MISS" for v in protos.values()):
        result["overall"]["verdict"] = "MISS"
    (a.out / "profiler_delays.json").write_text(json.dumps(result, indent=1, default=str))
    return result


@contextlib.contextmanager
def _removed(folder: str) -> Iterator[None]:
    """The ring folder, removed at the end however the jobs end (the recording keeps the rings)."""
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Check the arguments and the GPUs, run one job per protocol, judge the accounting, write the files."""
    try:
        a = parse_args(argv)
    except ValueError as exc:
        print(f"profiler_delays: {exc}", file=sys.stderr)
        return 2
    if a.child:
        child(a.child)
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout`: the folders are still removed
    try:
        import torch
    except ImportError:
        print("profiler_delays: needs torch with CUDA (pip install torch) and 2 or more GPUs", file=sys.stderr)
        return 2
    gpus = torch.cuda.device_count()
    world = a.ranks or (gpus if a.backend == "nccl" else 2)
    if (a.backend == "nccl" and (gpus < 2 or world > gpus)) or a.late_rank >= world:
        print(f"profiler_delays: needs 2 or more GPUs (one per rank, late rank {a.late_rank} among them); "
              f"found {gpus}", file=sys.stderr)
        return 2
    if estimate_s(a, world) > a.max_s:
        print(f"profiler_delays: the grid takes about {estimate_s(a, world):.0f} s on {world} ranks, over "
              f"--max-s={a.max_s:g}: fewer cells, --cell-s or --max-reps", file=sys.stderr)
        return 2
    from waitbench.profiler.accounting import account
    from waitbench.profiler.recording import load_sources
    from waitbench.profiler.ring import ring_paths

    a.out.mkdir(parents=True, exist_ok=True)
    print(f"profiler_delays: {world} ranks, about {estimate_s(a, world):.0f} s", flush=True)
    ring_dir = tempfile.mkdtemp(prefix="waitbench-delays-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    rows, scrapes, errors, protos, base = [], {}, {}, {}, time.strftime("delays-%H%M%S")
    recording = a.out / "profiler_delays.jsonl"
    recording.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp, _removed(ring_dir):
        for proto in a.protos:
            job = f"{base}-{proto}"
            try:
                calls, scrape = run_job(a, proto, world, ring_dir, job, Path(tmp))
            except (RuntimeError, TimeoutError, OSError) as exc:  # e.g. NCCL refusing the protocol: the next one
                errors[proto] = str(exc)
                print(f"profiler_delays: {proto}: {exc}", file=sys.stderr)
                continue
            if ring_paths(Path(ring_dir), job):  # none with gloo: nothing loads the plugin
                subprocess.run([sys.executable, "-m", "waitbench", "profiler", "collect", "--dir", ring_dir, "--job",
                                job, "--out", str(recording)], check=True, timeout=120)
            recs = [r for ring in load_sources([ring_dir], job=job) for r in ring.records] if ring_paths(
                Path(ring_dir), job) else []
            acc = account(recs)
            protos[proto] = delay_checks.protocols_seen(recs, proto)
            rows += delay_checks.check_job(calls, acc, AXES)
            (a.out / f"exporter-{proto}.txt").write_text(scrape)
            late = late_in_scrape(scrape)
            shown = max(late, key=late.get) if late else None
            scrapes[proto] = {"late_total": late, "most_late_rank": shown,
                              "verdict": "PASS" if shown == str(a.late_rank) else "MISS"}
            write_result(a, world, rows, scrapes, errors, protos, torch)
    result = write_result(a, world, rows, scrapes, errors, protos, torch)
    for r in rows:
        print(f"{r['proto']:6s} {r['collective']:10s} {r['size']:>10d} B {r['delay_ms']:>7g} ms: late "
              f"{r['late_share']:.0%} {r['late_verdict']}, wait err p50 {r['wait_abs_error_p50_s']} s "
              f"{r['wait_verdict']}, share {r['wait_share_verdict']}")
    print("overall:", result["overall"], "exporter:", {k: v["verdict"] for k, v in scrapes.items()})
    return 0 if result["overall"]["verdict"] == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
