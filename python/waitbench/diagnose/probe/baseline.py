# SPDX-License-Identifier: Apache-2.0
"""The probe's idle baseline: measured once per GPU and driver, cached in a small JSON file.

Why cached: the baseline must be measured while the GPU is idle, and the GPU an operator asks about
is usually the one that is not. It holds two figures: the probe's throughput on the idle GPU, and the
GPU's warm-idle power (a context held, nothing running), which the verdict needs where GPM is absent.
So the first ``diagnose --probe`` that finds a GPU idle measures it and keeps it; later probes
compare against it. A driver update changes clocks and scheduling, so the
driver version is part of the key. ``diagnose --probe-refresh`` re-measures (idle GPUs only).

Where: ``$XDG_CACHE_HOME/waitbench/probe-<uuid>-<driver>.json``, by default
``~/.cache/waitbench/probe-<uuid>-<driver>.json``. Delete the file to forget a baseline.

A cache is a file anyone may have edited, truncated or filled with another program's data, and a
wrong idle power flips verdicts silently. So a cached figure is checked as it is read: a file that is
not JSON, of another format, or holds a figure outside its plausible range (:data:`TFLOPS_RANGE`,
:data:`~waitbench.telemetry.verdict.IDLE_POWER_RANGE_W`) is no baseline: the GPU is measured again, with one
:class:`~waitbench.errors.CacheWarning` naming the file. A baseline is written under a temporary
name of its own and renamed over the cache file, so two probes never meet half-way in one file,
and a folder that cannot be written (read-only, full) is said once; the probe then goes on without
a cache.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import re
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ... import jsonl
from ..._version import __version__
from ...errors import CacheWarning
from ...telemetry.verdict import IDLE_POWER_RANGE_W
from .measure import ProbeRun

FORMAT_VERSION = 1
# What a cached figure may be. The probe's FP32 FMA throughput: above 0, and far below any GPU's
# peak (an H200 gives about 60). Warm-idle power (a context held, nothing running): IDLE_POWER_RANGE_W.
TFLOPS_RANGE = (0.0, 10_000.0)  # (exclusive, inclusive)
_WARNED: set[tuple[str, str]] = set()  # (file, problem) already said: a watch loop says each once


@dataclass
class Baseline:
    """Probe throughput of an idle GPU; ``source`` says where this one came from."""

    uuid: str
    name: str
    driver_version: str
    tflops: float
    runs_tflops: list[float] = field(default_factory=list)
    launches: int = 0
    fma_iters: int = 0
    measured_utc: str = ""
    waitbench_version: str = ""
    source: str = "cache"  # "cache", "measured now", or "borrowed from <uuid> (same model and driver)"
    path: str | None = None
    power_warm_idle_w: float | None = None  # the GPU's power holding a context and running nothing

    def to_dict(self) -> dict[str, Any]:
        """The baseline as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Baseline:
        """A baseline from :meth:`to_dict`'s form (unknown keys are ignored)."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in names})


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/waitbench`` or ``~/.cache/waitbench`` (created on first write)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "waitbench"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def cache_path(uuid: str, driver: str) -> Path:
    """The cache file of the baseline of GPU ``uuid`` under driver ``driver``."""
    return cache_dir() / f"probe-{_safe(uuid)}-{_safe(driver)}.json"


def _warn_once(path: Path, problem: str) -> None:
    if (str(path), problem) not in _WARNED:
        _WARNED.add((str(path), problem))
        warnings.warn(CacheWarning(f"{path}: {problem}"), stacklevel=3)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _problem(data: Any) -> str | None:
    """What makes ``data`` no baseline of this format, or None."""
    if not isinstance(data, dict):
        return f"is a JSON {jsonl.json_kind(data)}, not a probe baseline object"
    if data.get("format_version") != FORMAT_VERSION:
        return f"format_version={data.get('format_version')!r}, not {FORMAT_VERSION}"
    for key in ("uuid", "name", "driver_version"):
        if not isinstance(data.get(key), str):
            return f"{key}={data.get(key)!r} is not a string"
    lo, hi = TFLOPS_RANGE
    runs = data.get("runs_tflops", [])
    if not _number(data.get("tflops")) or not lo < data["tflops"] <= hi:
        return f"tflops={data.get('tflops')!r} is outside the plausible range ({lo:g}, {hi:g}]"
    if not isinstance(runs, list) or not all(_number(r) and lo < r <= hi for r in runs):
        return f"runs_tflops={runs!r:.60} is not a list of throughputs in ({lo:g}, {hi:g}]"
    power = data.get("power_warm_idle_w")
    lo, hi = IDLE_POWER_RANGE_W
    if power is not None and not (_number(power) and lo <= power <= hi):
        return f"power_warm_idle_w={power!r} is outside the plausible idle power of a GPU [{lo:g}, {hi:g}] W"
    for key in ("launches", "fma_iters"):
        v = data.get(key, 0)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            return f"{key}={v!r} is not a count"
    for key in ("measured_utc", "waitbench_version"):
        if not isinstance(data.get(key, ""), str):
            return f"{key}={data.get(key)!r} is not a string"
    return None


def _read(path: Path) -> Baseline | None:
    """The baseline cached in ``path``; None (measure again) when absent, or, with a warning, unusable."""
    try:
        data = jsonl.loads(path.read_bytes())
    except (FileNotFoundError, NotADirectoryError):  # no baseline yet (or no cache folder: said when saving)
        return None
    except OSError as exc:
        _warn_once(path, f"cannot read this probe baseline ({exc.strerror or exc}): measuring it again")
        return None
    except ValueError as exc:
        _warn_once(path, f"not a probe baseline ({exc}): measuring it again")
        return None
    problem = _problem(data)
    if problem is not None:
        _warn_once(path, f"not a usable probe baseline ({problem}): measuring it again")
        return None
    base = Baseline.from_dict(data)
    base.path, base.source = str(path), "cache"
    return base


def load(uuid: str, driver: str) -> Baseline | None:
    """The cached baseline of this GPU and driver, or None."""
    return _read(cache_path(uuid, driver))


def borrow(name: str, driver: str, uuid: str) -> Baseline | None:
    """A cached baseline of another GPU of the same model and driver (the closest stand-in), or None."""
    folder = cache_dir()
    if not folder.is_dir():
        return None
    for path in sorted(folder.glob(f"probe-*-{_safe(driver)}.json")):
        base = _read(path)
        if base is not None and base.uuid != uuid and base.name == name and base.driver_version == driver:
            base.source = f"borrowed from {base.uuid} (same model and driver)"
            return base
    return None


def find(uuid: str, name: str, driver: str) -> Baseline | None:
    """This GPU's cached baseline, else one borrowed from a GPU of the same model and driver, else None."""
    return load(uuid, driver) or borrow(name, driver, uuid)


def save(run: ProbeRun, name: str, driver: str) -> Baseline:
    """Keep an idle GPU's probe as its baseline (ValueError if the run has no throughput)."""
    if run.status != "ok" or not run.tflops:
        raise ValueError(f"a probe run with status {run.status!r} cannot be a baseline")
    base = Baseline(uuid=run.uuid, name=name, driver_version=driver, tflops=run.tflops,
                    runs_tflops=list(run.runs_tflops), launches=run.launches, fma_iters=run.fma_iters,
                    measured_utc=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    waitbench_version=__version__, power_warm_idle_w=run.power_warm_idle_w)
    path = cache_path(run.uuid, driver)
    data = {"format_version": FORMAT_VERSION, **base.to_dict()}
    data.pop("path"), data.pop("source")
    problem = _problem(data)
    if problem is not None:  # a figure no later probe would accept: not kept, the next probe measures again
        _warn_once(path, f"this probe baseline is not kept ({problem})")
        lo, hi = IDLE_POWER_RANGE_W
        if base.power_warm_idle_w is not None and not (_number(base.power_warm_idle_w)
                                                       and lo <= base.power_warm_idle_w <= hi):
            base.power_warm_idle_w = None  # judged as without a power baseline, rather than by a figure no GPU reads
    else:
        try:
            _write_atomically(path, (json.dumps(data, indent=1, allow_nan=False) + "\n").encode("utf-8"))
            base.path = str(path)
        except OSError as exc:
            _warn_once(path.parent, f"cannot keep probe baselines here ({exc.strerror or exc}): going on without "
                       "a cache (set XDG_CACHE_HOME to a writable folder to keep them)")
    base.source = "measured now"
    return base


def _write_atomically(path: Path, data: bytes) -> None:
    """``data`` as ``path``, written under a temporary name of its own in the same folder, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # never a half-written baseline, whoever else writes one now
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
