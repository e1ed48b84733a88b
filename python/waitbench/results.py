# SPDX-License-Identifier: Apache-2.0
"""Result records: one flat JSON object per measurement, appended to JSON Lines as the run goes.

Why flat and fixed: every record carries every key of :data:`FIELDS` (``None`` where a value could
not be measured, with the reason in ``null_reasons``), so a file loads into one table whatever
flags produced it, and ``report``/``compare`` need no knowledge of how a run was configured.
The schema version is defined here once. A field added later raises it; records of an older
version still load, with each field they predate set to that field's default (:func:`check_record`,
the one validator every reader uses). Files of a newer version are refused.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from collections import abc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import checks, jsonl
from .errors import DuplicateRecordsWarning, ResultsError, invalid
from .jsonl import INT_LIMIT, Appender, NotOurs, json_default  # noqa: F401  (json_default: re-exported for callers)
from .metrics import TELEMETRY_METRICS

SCHEMA_VERSION = 5
# What each version added. Version 2 made official the two fields added with research strategies
# while files still said 1: a record that lacks them predates research strategies, so it measured
# a built-in strategy in C++ (strategy_source 'builtin', host_wait_in_python False).
SCHEMA_HISTORY = {1: "the first schema", 2: "strategy_source, host_wait_in_python",
                  3: "protocol, message_bytes, side_call, side_call_ms, side_call_after_late_ms (waitbench nccl)",
                  4: "record_kind 'dispatch' and the dispatch_* fields, cpu_model (waitbench dispatch)",
                  5: "mem_clock_mhz (telemetry)"}


@dataclass(frozen=True)
class Field:
    """One key of a record: its name carries its unit; ``kind`` is the JSON type.

    ``since`` is the schema version that added the field; ``default`` is what a record of an older
    version that lacks it gets on load. ``nullable``: whether None is allowed (a metric that could
    not be measured is None, with its reason in ``null_reasons``; the schema version, the record
    kind and ``null_reasons`` itself are never None). A number is always finite and an integer fits
    in 64 bits: NaN and infinities are no measurement (None is).
    """

    name: str
    kind: str  # "str" | "int" | "float" | "bool" | "dict" | "list"
    doc: str
    since: int = 1
    default: Any = None
    nullable: bool = True


# Identity of the run and of the machine (the same for every record of one run).
RUN_FIELDS = [
    Field("schema_version", "int", "results schema version (waitbench.results.SCHEMA_VERSION)", nullable=False),
    Field("record_kind", "str",
          "'waiter' (waiter alone + wake-up), 'workload' (throughput beside a waiter), 'nccl', 'sweep', "
          "'dispatch'", nullable=False),
    Field("run_id", "str", "identifier shared by all records of one run"),
    Field("time_utc", "str", "ISO-8601 time the record was made"),
    Field("argv", "list", "command line of the process that made the record"),
    Field("hostname", "str", "host name"),
    Field("waitbench_version", "str", "package version"),
    Field("git_sha", "str", "git commit of the source tree, when known"),
    Field("python_version", "str", "Python version"),
    Field("torch_version", "str", "torch version, when torch was imported"),
    Field("nccl_version", "str", "NCCL version, for real-collective records"),
    Field("gpu_index", "int", "CUDA device index"),
    Field("gpu_name", "str", "GPU product name"),
    Field("gpu_uuid", "str", "GPU UUID (how CUDA and NVML devices are matched)"),
    Field("gpu_pci_bus_id", "str", "PCI bus id"),
    Field("gpu_sm_count", "int", "streaming multiprocessors"),
    Field("gpu_cc", "str", "compute capability, e.g. '9.0'"),
    Field("gpu_sm_clock_max_mhz", "float", "maximum SM clock (NVML)"),
    Field("driver_version", "str", "NVIDIA driver version (NVML)"),
    Field("cuda_driver_version", "int", "CUDA version the driver supports (cudaDriverGetVersion)"),
    Field("cuda_runtime_version", "int", "CUDA runtime waitbench was built with"),
]

# What was measured.
SUBJECT_FIELDS = [
    Field("strategy", "str", "wait strategy name (waitbench.strategies())"),
    Field("preset", "str", "preset name for nccl-shaped, else None"),
    Field("options", "dict", "every option of the strategy, defaults filled in"),
    Field("strategy_source", "str", "'builtin', 'registered' (waitbench.register_strategy) or 'plugin:<distribution>'",
          since=2, default="builtin"),
    Field("host_wait_in_python", "bool", "True for a research strategy whose host-side wait runs in Python: its "
          "timings include the interpreter", since=2, default=False),
    Field("workload", "str", "concurrent workload name for 'workload' records, else None"),
    Field("repetition", "int", "repetition index of this (strategy, options, workload)"),
    Field("status", "str", "'ok', 'expired', 'stalled', 'aborted', 'error' or 'skipped' (status_detail says why)"),
    Field("status_detail", "str", "human-readable detail for a status other than 'ok'"),
]

# Shape of a device-resident waiter (None for front-end and host-side waits).
SHAPE_FIELDS = [
    Field("waiter_blocks", "int", "blocks of the waiter kernel"),
    Field("waiter_threads", "int", "threads per block"),
    Field("waiter_pollers", "int", "polling threads per block"),
    Field("waiter_regs_per_thread", "int", "registers per thread of the waiter kernel (cudaFuncGetAttributes)"),
    Field("waiter_smem_bytes", "int", "dynamic + static shared memory per block"),
    Field("waiter_sm_ids", "list", "SM id each waiter block landed on (%smid)"),
    Field("waiter_distinct_sms", "int", "number of distinct SMs holding a waiter block"),
]

# Telemetry of the waiter alone (or of the window of a real collective): declared in the metric table.
TELEMETRY_FIELDS = [Field(m.name, m.kind, m.doc, since=m.since) for m in TELEMETRY_METRICS]

# Wake-up latency of the waiter.
WAKE_FIELDS = [
    Field("wake_trials", "int", "trials kept (after warm-up)"),
    Field("wake_observe_min_us", "float", "release -> waiter observes it: minimum"),
    Field("wake_observe_p50_us", "float", "release -> waiter observes it: median"),
    Field("wake_observe_p99_us", "float", "release -> waiter observes it: 99th percentile"),
    Field("wake_observe_p999_us", "float", "release -> waiter observes it: 99.9th percentile"),
    Field("wake_observe_max_us", "float", "release -> waiter observes it: maximum"),
    Field("wake_rtt_min_us", "float", "release -> host sees the GPU's ack word: minimum"),
    Field("wake_rtt_p50_us", "float", "release -> host sees the GPU's ack word: median"),
    Field("wake_rtt_p99_us", "float", "release -> host sees the GPU's ack word: 99th percentile"),
    Field("wake_rtt_p999_us", "float", "release -> host sees the GPU's ack word: 99.9th percentile"),
    Field("wake_rtt_max_us", "float", "release -> host sees the GPU's ack word: maximum"),
    Field("wake_floor_rtt_p50_us", "float",
          "floor: launch of a 1-warp kernel that writes the ack, from a hot thread, median"),
    Field("clock_offset_uncertainty_us", "float", "half round trip of the best host<->globaltimer calibration ping"),
    Field("globaltimer_resolution_ns", "float", "smallest step of the device's %globaltimer seen"),
    Field("wait_host_cpu_pct", "float", "CPU time of the waiting host thread per wall second during waits, in percent"),
]

# Throughput of a concurrent workload ('workload' records).
WORKLOAD_FIELDS = [
    Field("tput_unit", "str", "unit of the throughput fields, e.g. 'TFLOP/s' or 'TB/s'"),
    Field("tput_solo", "float", "workload throughput alone, median of repeats"),
    Field("tput_concurrent", "float", "workload throughput with the waiter resident, median of repeats"),
    Field("tput_ratio", "float", "median of per-pair concurrent/solo ratios"),
    Field("tput_ratio_spread_pct", "float", "relative spread (IQR / median) of the per-pair ratios, percent"),
    Field("tput_pairs", "int", "interleaved solo/concurrent pairs measured"),
    Field("tput_noisy", "bool", "True when the spread target was not reached before the time cap"),
    Field("tput_peak_fraction", "float", "solo throughput / the chip's ceiling measured or computed in this run"),
    Field("tput_ceiling", "float", "the ceiling used for tput_peak_fraction, in tput_unit"),
    Field("stall_ms", "float", "for a stalled workload: how long it made no progress before the waiter was released"),
    Field("victim_grid", "int", "blocks per launch of the workload's kernel"),
    Field("victim_block", "int", "threads per block of the workload's kernel"),
    Field("victim_regs_per_thread", "int", "registers per thread of the workload's kernel"),
    Field("victim_smem_bytes", "int", "shared memory per block of the workload's kernel"),
]

# Dispatch of requests to a tensor-parallel group ('dispatch' records, waitbench dispatch). Latencies are
# from a request's arrival on rank 0; "last" is the slowest rank of each request.
_DISPATCH_STATS = ("p50", "p99", "p999")
DISPATCH_FIELDS = [
    Field("cpu_model", "str", "host CPU model (CPUID brand string)", since=4),
    Field("dispatch_requests", "int", "measured requests each rank received (after warm-up)", since=4),
    *[Field(f"dispatch_recv_{q}_us", "float", f"arrival -> a receiving rank's (>= 1) host receive, pooled: {q}",
            since=4) for q in _DISPATCH_STATS],
    *[Field(f"dispatch_last_recv_{q}_us", "float", f"arrival -> the last rank's host receive: {q}", since=4)
      for q in _DISPATCH_STATS],
    *[Field(f"dispatch_kernel_{q}_us", "float", f"arrival -> a rank's forward kernel start (%globaltimer on the host "
            f"clock), every rank pooled: {q}", since=4) for q in _DISPATCH_STATS],
    *[Field(f"dispatch_last_kernel_{q}_us", "float", f"arrival -> the last rank's forward kernel start: {q}", since=4)
      for q in _DISPATCH_STATS],
    Field("dispatch_launch_p50_us", "float", "a rank's host receive -> its kernel start (launch, and the GPU's "
          "switch between the rank processes' contexts): median", since=4),
    Field("dispatch_launch_p99_us", "float", "the same: 99th percentile", since=4),
    Field("dispatch_off_cpu_ratio", "float", "share of waits in which the waiting thread left its core (woke through "
          "the scheduler, and through an idle-state exit where that core went idle)", since=4),
    Field("dispatch_max_rate_hz", "float", "requests per second in closed loop (each sent once the last finished)",
          since=4),
    Field("dispatch_per_rank", "list", "per rank: {rank, recv_*_us, kernel_*_us, idle_cpu_pct, off_cpu_ratio}",
          since=4),
]

# Real collectives (>= 2 GPUs) and free-form extras.
EXTRA_FIELDS = [
    Field("rank", "int", "rank in a real-collective run"),
    Field("world_size", "int", "ranks in a real-collective run"),
    Field("collective", "str", "all_reduce, broadcast, all_gather, ..."),
    Field("late_rank", "int", "which rank arrived late"),
    Field("late_s", "float", "how late it arrived"),
    Field("role", "str", "'late' or 'waiting' (real-collective records)"),
    Field("backend", "str", "collective backend: 'nccl', or 'gloo' for the CPU dry run"),
    Field("wait_s", "float", "this rank: from reaching the collective to its completion"),
    Field("host_blocked_s", "float", "this rank: how long the call to the collective held the calling thread"),
    Field("completion_after_late_us", "float", "collective completion after the late rank arrived"),
    Field("protocol", "str", "NCCL_PROTO asked for (LL, LL128, Simple), or None: NCCL's own choice", since=3),
    Field("message_bytes", "int", "bytes each rank contributes to the collective", since=3),
    Field("side_call", "str", "the CUDA call a waiting rank made during the wait (waitbench nccl --calls)", since=3),
    Field("side_call_ms", "float", "how long that call took, from its start to its return", since=3),
    Field("side_call_after_late_ms", "float", "its return minus the late rank's arrival: > 0 means it waited for the "
          "late rank, < 0 that it returned during the wait", since=3),
    Field("extra", "dict", "free-form values that have no field yet (never relied upon by reports)"),
    Field("null_reasons", "dict", "for every None-valued metric: why it could not be measured", nullable=False),
]

FIELDS: list[Field] = [*RUN_FIELDS, *SUBJECT_FIELDS, *SHAPE_FIELDS, *TELEMETRY_FIELDS, *WAKE_FIELDS, *WORKLOAD_FIELDS,
                       *DISPATCH_FIELDS, *EXTRA_FIELDS]
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
_FIELD_SET = frozenset(FIELD_NAMES)
_KIND_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "dict": (dict,), "list": (list, tuple),
}
RECORD_KINDS = ("waiter", "workload", "nccl", "sweep", "dispatch")
STATUSES = ("ok", "expired", "stalled", "aborted", "error", "skipped")
# Keys whose None needs no reason: identity keys that simply do not apply to every record.


def new_record(**values: Any) -> dict[str, Any]:
    """A record with every field present (None where not given), validated."""
    unknown = set(values) - set(FIELD_NAMES)
    if unknown:
        raise ValueError(f"unknown record field(s): {sorted(unknown)}; valid fields are waitbench.results.FIELD_NAMES")
    rec: dict[str, Any] = dict.fromkeys(FIELD_NAMES)
    rec["schema_version"] = SCHEMA_VERSION
    rec["null_reasons"] = {}
    rec.update(values)
    validate(rec)
    return rec


def set_null(rec: dict[str, Any], reason: str, *names: str) -> None:
    """Mark metrics as not measured, with the reason (the one way a metric becomes None)."""
    for name in names:
        if name not in rec:
            raise ValueError(f"unknown record field {name!r}")
        rec[name] = None
        rec["null_reasons"][name] = reason


def validate(rec: dict[str, Any]) -> None:
    """Raise ValueError if ``rec`` is not a well-formed record of this schema version (what writers check)."""
    if rec.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"schema_version={rec.get('schema_version')!r} is invalid: expected {SCHEMA_VERSION}")
    _check_fields(rec)


def _check_fields(rec: dict[str, Any]) -> None:
    missing = [n for n in FIELD_NAMES if n not in rec]
    if missing:
        raise ValueError(f"record lacks field(s) {missing}")
    extra = [n for n in rec if n not in _FIELD_SET]
    if extra:
        raise ValueError(f"record has unknown field(s) {extra}")
    for f in FIELDS:
        v = rec[f.name]
        if v is None:
            if not f.nullable:
                raise ValueError(f"{f.name}=None is invalid: expected {f.kind} (this field is never None)")
            continue
        if not isinstance(v, _KIND_TYPES[f.kind]) or (f.kind in ("int", "float") and isinstance(v, bool)):
            raise ValueError(f"{f.name}={v!r} is invalid: expected {f.kind}")
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{f.name}={v!r} is invalid: expected a finite number, or None with a reason")
        if isinstance(v, int) and not -INT_LIMIT <= v < INT_LIMIT:
            raise ValueError(f"{f.name}=<an integer of {v.bit_length()} bits> is invalid: expected an integer of 64 "
                             "bits, or None with a reason")
    if rec["record_kind"] not in RECORD_KINDS:
        raise ValueError(f"record_kind={rec['record_kind']!r} is invalid: expected one of {RECORD_KINDS}")
    if rec["status"] is not None and rec["status"] not in STATUSES:
        raise ValueError(f"status={rec['status']!r} is invalid: expected one of {STATUSES}")


def check_record(obj: Any) -> dict[str, Any]:
    """The one validator of records read back (report, compare, load, the README generator).

    Returns the record with the fields its schema version predates set to their defaults. Raises
    ValueError for a line that is no well-formed record (readers skip and count it), NotOurs for a
    JSON object that is no results record at all, and ResultsError for a record of a newer schema.
    """
    if not isinstance(obj, dict):
        raise NotOurs(f"is a JSON {jsonl.json_kind(obj)}, not a record object")
    version = obj.get("schema_version")
    if "schema_version" not in obj:
        hint = " (a telemetry recording? show it with: waitbench diagnose --replay)" if "format_version" in obj else ""
        raise NotOurs(f"has no schema_version: not a waitbench results record{hint}")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"schema_version={version!r} is invalid: expected an int in [1, {SCHEMA_VERSION}]")
    if version > SCHEMA_VERSION:
        raise ResultsError(f"schema_version {version} is newer than this waitbench reads (1 to {SCHEMA_VERSION}): "
                           "upgrade waitbench to read it")
    for f in FIELDS:  # a field newer than the record: its default, where the record lacks it or left it null
        if f.since > version and obj.get(f.name) is None:
            obj[f.name] = f.default
    _check_fields(obj)
    return obj


class ResultsWriter:
    """Appends records to a JSON Lines file (the one writer of results files).

    Checks ``path`` at once without creating anything, opens it at the first record, starts a new
    line if the file ends in a torn one, and flushes and fsyncs every record, so an interrupted run
    keeps everything it finished (see :mod:`waitbench.jsonl`).
    """

    def __init__(self, path: str | os.PathLike[str], *, argument: str = "out") -> None:
        self._out = Appender(path, argument=argument, what="results file", marker="schema_version")
        self.path = self._out.path
        self.count = 0

    def write(self, rec: dict[str, Any]) -> None:
        """Validate ``rec`` and append it (flushed and fsynced)."""
        validate(rec)
        self._out.write_line(rec)
        self.count += 1

    def close(self) -> None:
        """Close the file."""
        self._out.close()

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _with_location(path: Path, check: Any) -> Any:
    """``check`` with a ResultsError (a newer schema) naming the file."""
    def located(obj: Any) -> dict[str, Any]:
        try:
            return check(obj)
        except ResultsError as exc:
            raise ResultsError(f"{path}: {exc}") from None
    return located


def iter_records(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Stream the records of one JSON Lines file, each through :func:`check_record`.

    Malformed lines anywhere (a torn line, a line that is not JSON or not a record) are skipped and
    named in one :class:`~waitbench.errors.MalformedLinesWarning`. Raises ResultsError for a missing
    or unreadable file, a file with no record at all, or a record of a newer schema version.
    """
    p = Path(checks.path("path", path))
    yield from jsonl.read(p, "waitbench results file", _with_location(p, check_record))


def results_files(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
                  argument: str = "paths") -> list[Path]:
    """The files behind ``paths``: each a file, or a directory whose ``*.jsonl`` files are taken (sorted).

    A file given twice (the same path, a file inside a folder also given, a hard link, a symbolic
    link) is taken once, with one :class:`~waitbench.errors.DuplicateRecordsWarning`. ResultsError for
    a path that does not exist or a directory without results files.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    elif isinstance(paths, bytes) or not isinstance(paths, abc.Iterable):
        raise invalid(argument, paths, "a path or a list of paths (str or os.PathLike)")
    files: list[Path] = []
    seen: dict[tuple[int, int], Path] = {}
    twice: list[tuple[Path, Path]] = []
    for raw in paths:
        p = Path(checks.path(argument, raw))
        if p.is_dir():
            found = sorted(f for f in p.glob("*.jsonl") if f.is_file())
            if not found:
                raise ResultsError(f"{p}: no *.jsonl results files in this directory")
        elif not p.exists():
            raise ResultsError(f"{p}: no such file or directory")
        else:
            found = [p]
        for f in found:
            st = f.stat()
            first = seen.setdefault((st.st_dev, st.st_ino), f)
            if first is f:
                files.append(f)
            else:
                twice.append((f, first))
    if twice:
        f, first = twice[0]
        more = f" (and {len(twice) - 1} more)" if len(twice) > 1 else ""
        warnings.warn(DuplicateRecordsWarning(f"{f}: the same file as {first}, read once{more}"), stacklevel=2)
    return files


def _record_key(rec: dict[str, Any]) -> bytes:
    """What makes two records the same: their run and every value (a digest: a long run's keys stay small).

    Fields are taken in schema order (a checked record has every one), so the order a file lists them in
    does not matter; a field's own dict is taken as written (the writer's order is the strategy table's).
    """
    text = json.dumps([rec[n] for n in FIELD_NAMES], separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def unique_records(files: Iterable[Path], *, each_file: bool = False) -> Iterator[dict[str, Any]]:
    """The records of ``files`` (from :func:`results_files`), a record given twice yielded once.

    Two records with the same run id and the same content are one measurement read twice (a copy
    of a file, a file appended to itself): counting both would make one measurement two
    repetitions. They are named in one :class:`~waitbench.errors.DuplicateRecordsWarning` at the end.
    ``each_file``: ResultsError for a file that holds no record at all.
    """
    seen: dict[bytes, Path] = {}  # each record's key -> the file it was first read from
    repeats: dict[tuple[Path, Path], int] = {}  # (file, the file it repeats) -> records
    for f in files:
        count = 0
        for rec in iter_records(f):
            count += 1
            key = _record_key(rec)
            first = seen.get(key)
            if first is None:
                seen[key] = f
                yield rec
            else:
                repeats[(f, first)] = repeats.get((f, first), 0) + 1
        if each_file and not count:
            raise ResultsError(f"{f}: no records")
    if repeats:
        (f, first), n = next(iter(repeats.items()))
        total = sum(repeats.values())
        where = "records of the same file" if f == first else f"records of {first}"
        more = f"; {total - n} more in other files" if total > n else ""
        warnings.warn(DuplicateRecordsWarning(
            f"{f}: {n} record{'s' if n > 1 else ''} the same as {where} (same run id and content), counted "
            f"once{more}"), stacklevel=2)


def load_records(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """All records of one or more files (or directories of ``*.jsonl``), each once; ResultsError if none."""
    files = results_files(paths)
    records = list(unique_records(files))
    if not records:
        raise ResultsError(f"{', '.join(map(str, files)) or 'no files'}: no records")
    return records


def load(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> Any:
    """Load results into a pandas DataFrame in one call (needs the ``report`` extra)."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("waitbench.load needs pandas: pip install 'waitbench[report]'") from None
    return pd.DataFrame.from_records(load_records(paths), columns=list(FIELD_NAMES))
