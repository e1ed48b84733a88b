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
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..._version import __version__
from .measure import ProbeRun

FORMAT_VERSION = 1


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


def _read(path: Path) -> Baseline | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # absent or corrupt: measure again
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION or not data.get("tflops"):
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
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format_version": FORMAT_VERSION, **base.to_dict()}
    data.pop("path"), data.pop("source")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)  # never a half-written baseline
    base.path, base.source = str(path), "measured now"
    return base
