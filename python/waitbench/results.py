# SPDX-License-Identifier: Apache-2.0
"""Result records: one flat JSON object per measurement, appended to JSON Lines as the run goes.

Why flat and fixed: every record carries every key of :data:`FIELDS` (``None`` where a value could
not be measured, with the reason in ``null_reasons``), so a file loads into one table whatever
flags produced it, and ``report``/``compare`` need no knowledge of how a run was configured.
The schema version is defined here once; files of another version are refused on load.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from .errors import ResultsError

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Field:
    """One key of a record: its name carries its unit; ``kind`` is the JSON type."""

    name: str
    kind: str  # "str" | "int" | "float" | "bool" | "dict" | "list"
    doc: str


def _f(name: str, kind: str, doc: str) -> Field:
    return Field(name, kind, doc)


# Identity of the run and of the machine (the same for every record of one run).
RUN_FIELDS = [
    _f("schema_version", "int", "results schema version (waitbench.results.SCHEMA_VERSION)"),
    _f("record_kind", "str", "'waiter' (waiter alone + wake-up), 'workload' (throughput beside a waiter), 'nccl', 'sweep'"),
    _f("run_id", "str", "identifier shared by all records of one run"),
    _f("time_utc", "str", "ISO-8601 time the record was made"),
    _f("argv", "list", "command line of the process that made the record"),
    _f("hostname", "str", "host name"),
    _f("waitbench_version", "str", "package version"),
    _f("git_sha", "str", "git commit of the source tree, when known"),
    _f("python_version", "str", "Python version"),
    _f("torch_version", "str", "torch version, when torch was imported"),
    _f("nccl_version", "str", "NCCL version, for real-collective records"),
    _f("gpu_index", "int", "CUDA device index"),
    _f("gpu_name", "str", "GPU product name"),
    _f("gpu_uuid", "str", "GPU UUID (how CUDA and NVML devices are matched)"),
    _f("gpu_pci_bus_id", "str", "PCI bus id"),
    _f("gpu_sm_count", "int", "streaming multiprocessors"),
    _f("gpu_cc", "str", "compute capability, e.g. '9.0'"),
    _f("gpu_sm_clock_max_mhz", "float", "maximum SM clock (NVML)"),
    _f("driver_version", "str", "NVIDIA driver version (NVML)"),
    _f("cuda_driver_version", "int", "CUDA version the driver supports (cudaDriverGetVersion)"),
    _f("cuda_runtime_version", "int", "CUDA runtime waitbench was built with"),
]

# What was measured.
SUBJECT_FIELDS = [
    _f("strategy", "str", "wait strategy name (waitbench.strategies())"),
    _f("preset", "str", "preset name for nccl-shaped, else None"),
    _f("options", "dict", "every option of the strategy, defaults filled in"),
    _f("strategy_source", "str", "'builtin', 'registered' (waitbench.register_strategy) or 'plugin:<distribution>'"),
    _f("host_wait_in_python", "bool", "True for a research strategy whose host-side wait runs in Python: its timings "
       "include the interpreter"),
    _f("workload", "str", "concurrent workload name for 'workload' records, else None"),
    _f("repetition", "int", "repetition index of this (strategy, options, workload)"),
    _f("status", "str", "'ok', 'expired', 'stalled', 'aborted', 'error' or 'skipped' (status_detail says why)"),
    _f("status_detail", "str", "human-readable detail for a status other than 'ok'"),
]

# Shape of a device-resident waiter (None for front-end and host-side waits).
SHAPE_FIELDS = [
    _f("waiter_blocks", "int", "blocks of the waiter kernel"),
    _f("waiter_threads", "int", "threads per block"),
    _f("waiter_pollers", "int", "polling threads per block"),
    _f("waiter_regs_per_thread", "int", "registers per thread of the waiter kernel (cudaFuncGetAttributes)"),
    _f("waiter_smem_bytes", "int", "dynamic + static shared memory per block"),
    _f("waiter_sm_ids", "list", "SM id each waiter block landed on (%smid)"),
    _f("waiter_distinct_sms", "int", "number of distinct SMs holding a waiter block"),
]

# Telemetry of the waiter alone (or of the window of a real collective).
TELEMETRY_FIELDS = [
    _f("window_s", "float", "length of the telemetry window"),
    _f("nvml_util_pct", "float", "NVML utilization.gpu: share of time any kernel was resident, window mean"),
    _f("nvml_mem_util_pct", "float", "NVML memory utilization, window mean"),
    _f("gpm_sm_util_pct", "float", "GPM SM activity: share of SMs holding a resident warp"),
    _f("gpm_sm_occupancy_pct", "float", "GPM SM occupancy: resident warps / max warps"),
    _f("gpm_tensor_util_pct", "float", "GPM any-tensor pipe activity"),
    _f("gpm_fp32_util_pct", "float", "GPM FP32 pipe activity"),
    _f("gpm_fp16_util_pct", "float", "GPM FP16 pipe activity"),
    _f("gpm_fp64_util_pct", "float", "GPM FP64 pipe activity"),
    _f("gpm_int_util_pct", "float", "GPM integer pipe activity"),
    _f("gpm_dram_bw_util_pct", "float", "GPM DRAM bandwidth utilization"),
    _f("power_w", "float", "mean power from the energy counter over the window"),
    _f("power_idle_w", "float", "same, over the idle baseline window of this run"),
    _f("power_delta_w", "float", "power_w - power_idle_w"),
    _f("sm_clock_mhz", "float", "SM clock during the window (NVML)"),
    _f("host_cpu_pct", "float", "CPU time of the waiting thread per wall second, in percent of one core"),
    _f("verdict", "str", "'idle', 'busy', 'busy-waiting', 'shared' or 'unknown' (waitbench.telemetry)"),
    _f("verdict_reason", "str", "why the verdict was reached"),
    _f("verdict_inputs", "dict", "the numbers and thresholds the verdict used (waitbench.telemetry.verdict)"),
]

# Wake-up latency of the waiter.
WAKE_FIELDS = [
    _f("wake_trials", "int", "trials kept (after warm-up)"),
    _f("wake_observe_min_us", "float", "release -> waiter observes it: minimum"),
    _f("wake_observe_p50_us", "float", "release -> waiter observes it: median"),
    _f("wake_observe_p99_us", "float", "release -> waiter observes it: 99th percentile"),
    _f("wake_observe_p999_us", "float", "release -> waiter observes it: 99.9th percentile"),
    _f("wake_observe_max_us", "float", "release -> waiter observes it: maximum"),
    _f("wake_rtt_min_us", "float", "release -> host sees the GPU's ack word: minimum"),
    _f("wake_rtt_p50_us", "float", "release -> host sees the GPU's ack word: median"),
    _f("wake_rtt_p99_us", "float", "release -> host sees the GPU's ack word: 99th percentile"),
    _f("wake_rtt_p999_us", "float", "release -> host sees the GPU's ack word: 99.9th percentile"),
    _f("wake_rtt_max_us", "float", "release -> host sees the GPU's ack word: maximum"),
    _f("wake_floor_rtt_p50_us", "float", "floor: launch of a 1-warp kernel that writes the ack, from a hot thread, median"),
    _f("clock_offset_uncertainty_us", "float", "half round trip of the best host<->globaltimer calibration ping"),
    _f("globaltimer_resolution_ns", "float", "smallest step of the device's %globaltimer seen"),
    _f("wait_host_cpu_pct", "float", "CPU time of the waiting host thread per wall second during waits, in percent"),
]

# Throughput of a concurrent workload ('workload' records).
WORKLOAD_FIELDS = [
    _f("tput_unit", "str", "unit of the throughput fields, e.g. 'TFLOP/s' or 'TB/s'"),
    _f("tput_solo", "float", "workload throughput alone, median of repeats"),
    _f("tput_concurrent", "float", "workload throughput with the waiter resident, median of repeats"),
    _f("tput_ratio", "float", "median of per-pair concurrent/solo ratios"),
    _f("tput_ratio_spread_pct", "float", "relative spread (IQR / median) of the per-pair ratios, percent"),
    _f("tput_pairs", "int", "interleaved solo/concurrent pairs measured"),
    _f("tput_noisy", "bool", "True when the spread target was not reached before the time cap"),
    _f("tput_peak_fraction", "float", "solo throughput / the chip's ceiling measured or computed in this run"),
    _f("tput_ceiling", "float", "the ceiling used for tput_peak_fraction, in tput_unit"),
    _f("stall_ms", "float", "for a stalled workload: how long it made no progress before the waiter was released"),
    _f("victim_grid", "int", "blocks per launch of the workload's kernel"),
    _f("victim_block", "int", "threads per block of the workload's kernel"),
    _f("victim_regs_per_thread", "int", "registers per thread of the workload's kernel"),
    _f("victim_smem_bytes", "int", "shared memory per block of the workload's kernel"),
]

# Real collectives (>= 2 GPUs) and free-form extras.
EXTRA_FIELDS = [
    _f("rank", "int", "rank in a real-collective run"),
    _f("world_size", "int", "ranks in a real-collective run"),
    _f("collective", "str", "all_reduce, broadcast, all_gather, ..."),
    _f("late_rank", "int", "which rank arrived late"),
    _f("late_s", "float", "how late it arrived"),
    _f("role", "str", "'late' or 'waiting' (real-collective records)"),
    _f("backend", "str", "collective backend: 'nccl', or 'gloo' for the CPU dry run"),
    _f("wait_s", "float", "this rank: from reaching the collective to its completion"),
    _f("host_blocked_s", "float", "this rank: how long the call to the collective held the calling thread"),
    _f("completion_after_late_us", "float", "collective completion after the late rank arrived"),
    _f("protocol", "str", "NCCL_PROTO asked for (LL, LL128, Simple), or None: NCCL's own choice"),
    _f("message_bytes", "int", "bytes each rank contributes to the collective"),
    _f("side_call", "str", "the CUDA call a waiting rank made during the wait (waitbench nccl --calls)"),
    _f("side_call_ms", "float", "how long that call took, from its start to its return"),
    _f("side_call_after_late_ms", "float", "its return minus the late rank's arrival: > 0 means it waited for the "
       "late rank, < 0 that it returned during the wait"),
    _f("extra", "dict", "free-form values that have no field yet (never relied upon by reports)"),
    _f("null_reasons", "dict", "for every None-valued metric: why it could not be measured"),
]

FIELDS: list[Field] = RUN_FIELDS + SUBJECT_FIELDS + SHAPE_FIELDS + TELEMETRY_FIELDS + WAKE_FIELDS + WORKLOAD_FIELDS + EXTRA_FIELDS
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
_KIND_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "dict": (dict,), "list": (list, tuple),
}
RECORD_KINDS = ("waiter", "workload", "nccl", "sweep")
STATUSES = ("ok", "expired", "stalled", "aborted", "error", "skipped")
# Keys whose None needs no reason: identity keys that simply do not apply to every record.


def new_record(**values: Any) -> dict[str, Any]:
    """A record with every field present (None where not given), validated."""
    unknown = set(values) - set(FIELD_NAMES)
    if unknown:
        raise ValueError(f"unknown record field(s): {sorted(unknown)}; valid fields are waitbench.results.FIELD_NAMES")
    rec: dict[str, Any] = {name: None for name in FIELD_NAMES}
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
    """Raise ValueError if ``rec`` is not a well-formed record of this schema version."""
    if rec.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"schema_version={rec.get('schema_version')!r} is invalid: expected {SCHEMA_VERSION}")
    missing = [n for n in FIELD_NAMES if n not in rec]
    if missing:
        raise ValueError(f"record lacks field(s) {missing}")
    extra = [n for n in rec if n not in FIELD_NAMES]
    if extra:
        raise ValueError(f"record has unknown field(s) {extra}")
    for f in FIELDS:
        v = rec[f.name]
        if v is None:
            continue
        if not isinstance(v, _KIND_TYPES[f.kind]) or (f.kind in ("int", "float") and isinstance(v, bool)):
            raise ValueError(f"{f.name}={v!r} is invalid: expected {f.kind}")
    if rec["record_kind"] not in RECORD_KINDS:
        raise ValueError(f"record_kind={rec['record_kind']!r} is invalid: expected one of {RECORD_KINDS}")
    if rec["status"] is not None and rec["status"] not in STATUSES:
        raise ValueError(f"status={rec['status']!r} is invalid: expected one of {STATUSES}")


def json_default(obj: Any) -> Any:
    """``json.dumps(default=...)`` for numpy scalars and arrays (records and recordings alike)."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


class ResultsWriter:
    """Appends records to a JSON Lines file and flushes each line, so an interrupted run keeps
    everything it finished (the one writer of results files)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] | None = open(self.path, "a", encoding="utf-8")
        self.count = 0

    def write(self, rec: dict[str, Any]) -> None:
        validate(rec)
        assert self._fh is not None, "ResultsWriter is closed"
        self._fh.write(json.dumps(rec, default=json_default, separators=(",", ":")) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.count += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "ResultsWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_json_lines(path: str | os.PathLike[str], what: str, item: str = "line") -> Iterator[tuple[int, Any]]:
    """(line number, parsed object) of each non-blank line of a JSON Lines file written as it goes.

    A torn last line (an interrupted write) is skipped; ResultsError for a missing file or a
    corrupt line that is not the last one. ``what`` and ``item`` name the file and its lines in those
    messages.
    """
    p = Path(path)
    if not p.is_file():
        raise ResultsError(f"{p}: no such {what}")
    lines = p.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                return  # torn last line of an interrupted run
            raise ResultsError(f"{p}:{i + 1}: not a JSON {item}") from None
        yield i + 1, obj


def iter_records(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield the records of one JSON Lines file; a torn last line (an interrupted write) is skipped.

    Raises ResultsError for a missing file, a file of another schema version, or a corrupt line
    that is not the last one.
    """
    for lineno, rec in iter_json_lines(path, "results file", "record"):
        version = rec.get("schema_version") if isinstance(rec, dict) else None
        if version != SCHEMA_VERSION:
            raise ResultsError(f"{Path(path)}:{lineno}: schema_version {version!r}, this waitbench reads "
                               f"{SCHEMA_VERSION}")
        yield rec


def load_records(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """All records of one or more files (or directories of ``*.jsonl``); ResultsError if none."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(p.glob("*.jsonl")) if p.is_dir() else [p])
    records = [rec for f in files for rec in iter_records(f)]
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
