# SPDX-License-Identifier: Apache-2.0
"""Start the ranks: one process per GPU through torch.multiprocessing, or, under torchrun, none.

Why two paths: on one machine the launcher spawns fresh processes for every mode (NCCL reads its
``NCCL_*`` parameters once per process, so a mode's knob must not leak into the next mode); under
``torchrun`` (one process per rank already, possibly on several nodes, rendezvous through
torch.distributed) the same command runs its modes one after another in the ranks it was given.
Either way the records come back through the store and one process writes the JSON Lines file: the
spawning parent, or rank 0.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import WaitbenchError, invalid
from ..results import load_records
from ..telemetry.recording import RecordingWriter
from . import emulate, merge
from .config import WORKLOADS, ScenarioConfig, validate_config
from .modes import get_mode, skip_reason
from .records import error_record, skip_record
from .scenario import run_rank

# Kept set on every GPU machine of this project (NVLink multicast is off there), and in every child:
# setdefault, so a user's own value wins and is recorded in each record's extra['env'].
REQUIRED_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1"}
TORCHRUN_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR")
SPAWN_OVERHEAD_S = 120.0  # process start, torch import and NCCL init, on top of a mode's own timeout
EMULATE_TIMEOUT_S = 900.0  # every stand-in: a waiter window, 2000 wake-ups and two workloads beside it

OnMode = Callable[[str, list[dict[str, Any]]], None]


def set_required_env() -> None:
    """Set the environment every rank needs, where the user has not."""
    for key, value in REQUIRED_ENV.items():
        os.environ.setdefault(key, value)


def under_torchrun() -> bool:
    """True when torchrun (or any launcher with its environment) started this process as one rank."""
    return all(k in os.environ for k in TORCHRUN_ENV)


def new_run_id() -> str:
    """A run id: UTC time and a random suffix, shared by the records of every rank."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def run(modes: Sequence[str], *, out: str | os.PathLike[str], nproc: int | None = None, backend: str = "nccl",
        collectives: Sequence[str] = ("all_reduce",), numels: Sequence[int] = (1,),
        protocols: Sequence[str | None] = (None,), workloads: Sequence[str] = WORKLOADS, wake_trials: int = 20,
        calls: Sequence[str] = (), late_s: float = 3.0, late_rank: int = 0, argv: Sequence[str] = (),
        record: str | os.PathLike[str] | None = None, emulate: bool = False,
        on_mode: OnMode | None = None) -> list[dict[str, Any]] | None:
    """Run every mode and append its records to ``out`` (and its telemetry windows to ``record``).

    Each mode runs every protocol x collective x size (its cells); with ``calls``, one side-call
    episode per call instead. With ``emulate``, the emulated stand-in of each real wait is measured
    afterwards on a waiting rank's GPU (waitbench.nccl.emulate) and appended too. Returns the records
    in the process that wrote them (the parent, or rank 0 under torchrun) and None in the other ranks.
    Raises ValueError for bad arguments before anything starts.
    """
    set_required_env()
    if under_torchrun():
        world = int(os.environ["WORLD_SIZE"])
        if nproc is not None and nproc != world:
            raise invalid("--nproc", nproc, f"the torchrun world size {world} (or leave it out)")
        nproc = world
    if nproc is None:
        raise invalid("--nproc", nproc, "a number of ranks >= 2")
    run_id = new_run_id()
    cfgs = [ScenarioConfig(mode=get_mode(m).name, backend=backend, collectives=tuple(collectives),
                           numels=tuple(numels), protocols=tuple(protocols), workloads=tuple(workloads),
                           wake_trials=wake_trials, calls=tuple(calls), late_s=late_s, late_rank=late_rank,
                           run_id=run_id, argv=tuple(argv)) for m in modes]
    if not cfgs:
        raise invalid("--modes", "", "at least one mode")
    for cfg in cfgs:
        validate_config(cfg, nproc)
    writer = RecordingWriter(record) if record is not None else None
    try:
        if under_torchrun():
            records = _run_torchrun(cfgs, out, writer, on_mode)
        else:
            records = _run_spawn(cfgs, nproc, out, writer, on_mode)
    finally:
        if writer is not None:
            writer.close()
    if emulate and records is not None and backend == "nccl":
        records += _emulate(records, out, run_id)
    return records


def _emulate(records: list[dict[str, Any]], out: Any, run_id: str) -> list[dict[str, Any]]:
    """Measure the stand-ins of the real waits on the first waiting rank's GPU, in a child process."""
    cells = emulate.plan(records)
    waiting = [r for r in records if r.get("role") == "waiting" and r.get("gpu_index") is not None]
    if not cells or not waiting:
        return []
    before = len(load_records(out))
    cmd = [sys.executable, "-m", "waitbench.nccl.emulate", "--gpu", str(waiting[0]["gpu_index"]), "--out", str(out),
           "--cells", json.dumps(cells), "--run-id", run_id]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=EMULATE_TIMEOUT_S)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise WaitbenchError(f"the emulation process failed (exit {proc.returncode}): {tail}")
    return load_records(out)[before:]


def _write(cfg: ScenarioConfig, out: Any, writer: RecordingWriter | None, recs: list[dict[str, Any]],
           windows: list[dict[str, Any]]) -> None:
    """The mode's records to the results file, its windows to the recording (labelled by scenario)."""
    merge.write(out, recs)
    if writer is None:
        return
    for w in windows:
        writer.write("window", run_id=cfg.run_id, mode=cfg.mode, **w)


def _nccl_version(backend: str) -> tuple[int, ...] | None:
    if backend != "nccl":
        return None
    import torch

    try:
        return tuple(int(v) for v in torch.cuda.nccl.version()[:3])  # a 4th item is a text suffix
    except Exception:  # noqa: BLE001 - a torch built without NCCL: the modes that need a version say so
        return None


def _cupy_available() -> bool:
    return importlib.util.find_spec("cupy") is not None


def _mode_prefix(cfg: ScenarioConfig) -> str:
    return f"waitbench/{cfg.run_id}/{cfg.mode}/"


def _run_spawn(cfgs: list[ScenarioConfig], nproc: int, out: Any, writer: RecordingWriter | None,
               on_mode: OnMode | None) -> list[dict[str, Any]]:
    import torch.distributed as dist

    timeout = timedelta(seconds=max(c.timeout_s for c in cfgs))
    store = dist.TCPStore("127.0.0.1", 0, None, True, timeout=timeout, wait_for_workers=False)
    version, cupy_ok = _nccl_version(cfgs[0].backend), _cupy_available()
    records: list[dict[str, Any]] = []
    for cfg in cfgs:
        reason = skip_reason(get_mode(cfg.mode), backend=cfg.backend, nccl_version=version, cupy_available=cupy_ok)
        windows: list[dict[str, Any]] = []
        if reason:
            recs = [skip_record(cfg, r, nproc, reason) for r in range(nproc)]
        else:
            recs, windows = _spawn_mode(cfg, nproc, store)
        _write(cfg, out, writer, recs, windows)
        records.extend(recs)
        if on_mode is not None:
            on_mode(cfg.mode, recs)
    return records


def _spawn_mode(cfg: ScenarioConfig, nproc: int, store: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    import torch.distributed as dist
    import torch.multiprocessing as mp

    ctx = mp.start_processes(_child, args=(cfg, nproc, store.port), nprocs=nproc, join=False, start_method="spawn")
    budget_s = cfg.budget_s() + SPAWN_OVERHEAD_S
    deadline = time.monotonic() + budget_s
    failure: str | None = None
    try:
        while not ctx.join(timeout=0.1):
            if time.monotonic() > deadline:
                failure = f"mode {cfg.mode} ran past {budget_s:g} s; its processes were killed"
                break
    except Exception as exc:  # noqa: BLE001 - a rank raised or died: its record is missing, the others are kept
        lines = str(exc).strip().splitlines()
        failure = f"a rank process failed: {lines[-1] if lines else type(exc).__name__}"
    finally:
        for proc in ctx.processes:
            if proc.is_alive():
                proc.kill()
            proc.join()
    return merge.collect(dist.PrefixStore(_mode_prefix(cfg), store), nproc, timeout_s=1.0 if failure else 10.0,
                         missing=_missing(cfg, nproc, failure or "the rank returned no record"))


def _missing(cfg: ScenarioConfig, world_size: int, detail: str) -> Callable[[int, str], dict[str, Any]]:
    """The stand-in for a rank whose record never arrived: an 'error' record with ``detail`` and why."""
    return lambda rank, why: error_record(cfg, rank, world_size, f"{detail} ({why})")


def _child(local_rank: int, cfg: ScenarioConfig, nproc: int, port: int) -> None:
    """Entry of a spawned rank: the mode's environment first, before any process group exists.

    Ctrl-C is the parent's to handle (it kills the ranks and keeps the modes already written), so a
    rank ignores SIGINT instead of printing a traceback of its own.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_required_env()
    os.environ.update(get_mode(cfg.mode).env)
    import torch.distributed as dist

    client = dist.TCPStore("127.0.0.1", port, is_master=False, timeout=timedelta(seconds=cfg.timeout_s))
    store = dist.PrefixStore(_mode_prefix(cfg), client)
    payload = run_rank(cfg, store, rank=local_rank, world_size=nproc, local_rank=local_rank)
    merge.publish(store, local_rank, payload)


@contextmanager
def _mode_env(env: dict[str, str]) -> Iterator[None]:
    """Set a mode's variables for the duration of the mode and restore the previous values."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_torchrun(cfgs: list[ScenarioConfig], out: Any, writer: RecordingWriter | None,
                  on_mode: OnMode | None) -> list[dict[str, Any]] | None:
    import torch.distributed as dist

    rank, world, local_rank = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    timeout = timedelta(seconds=max(c.timeout_s for c in cfgs))
    store, _, _ = next(dist.rendezvous("env://", rank=rank, world_size=world, timeout=timeout))
    # One run id for all ranks: rank 0's, keyed by torchrun's restart count so a restart starts afresh.
    key = f"waitbench/run_id/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}"
    if rank == 0:
        store.set(key, cfgs[0].run_id)
    run_id = merge.store_get(store, key, timeout.total_seconds())
    records: list[dict[str, Any]] = []
    for cfg in (replace(c, run_id=run_id) for c in cfgs):
        mstore = dist.PrefixStore(_mode_prefix(cfg), store)
        if rank == 0:  # rank 0 decides, so ranks on different nodes cannot disagree and hang
            reason = skip_reason(get_mode(cfg.mode), backend=cfg.backend, nccl_version=_nccl_version(cfg.backend),
                                 cupy_available=_cupy_available(), shared_process=True,
                                 shares_with_nccl_modes=len(cfgs) > 1)
            mstore.set("skip", reason or "")
        reason = merge.store_get(mstore, "skip", timeout.total_seconds())
        if not reason:
            with _mode_env(dict(get_mode(cfg.mode).env)):
                payload = run_rank(cfg, mstore, rank=rank, world_size=world, local_rank=local_rank)
            merge.publish(mstore, rank, payload)
        if rank != 0:
            continue
        windows: list[dict[str, Any]] = []
        if reason:
            recs = [skip_record(cfg, r, world, reason) for r in range(world)]
        else:
            recs, windows = merge.collect(mstore, world, timeout_s=cfg.budget_s(),
                                          missing=_missing(cfg, world, "the rank returned no record"))
        _write(cfg, out, writer, recs, windows)
        records.extend(recs)
        if on_mode is not None:
            on_mode(cfg.mode, recs)
    return records if rank == 0 else None

