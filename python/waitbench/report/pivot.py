# SPDX-License-Identifier: Apache-2.0
"""Group flat records into what a reader compares: one strategy + option set, one run.

Why a separate step: records are one-per-measurement (waiter alone, each workload beside it, each
repetition), while tables, plots and ``compare`` all speak of "a strategy with its options". This
module owns that identity (:func:`combo_key`) and its human label (:func:`combo_label`), so the
three readers never disagree on which records belong together.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..strategies import get as _get_strategy
from ..strategies import strategies as _all_strategies

# Built-in workloads, in the order columns and subplots show them; others follow, sorted.
WORKLOAD_ORDER = ("gemm", "fma", "stream")
# Options that only bound a wait (a deadline), never change what it costs: hidden from labels.
HIDDEN_OPTIONS = ("timeout_s",)

ComboKey = tuple[str, str, str]


@dataclass(frozen=True)
class RunInfo:
    """What every record of one run shares: the machine and software a reader must see beside numbers."""

    run_id: str
    gpu_name: str | None
    driver_version: str | None
    gpu_sm_count: int | None
    waitbench_version: str | None
    time_utc: str | None
    schema_version: int | None
    kinds: tuple[str, ...]

    def subtitle(self) -> str:
        """One line naming GPU, driver and run, for table titles and plot subtitles."""
        parts = [self.gpu_name or "unknown GPU"]
        if self.gpu_sm_count:
            parts.append(f"{self.gpu_sm_count} SMs")
        parts.append(f"driver {self.driver_version or 'unknown'}")
        if self.waitbench_version:
            parts.append(f"waitbench {self.waitbench_version}")
        parts.append(f"run {self.run_id}")
        return " · ".join(parts)


# (strategy, id(options)) -> (options, filled, canonical JSON); holding options keeps its id from being reused
_FILLED: dict[tuple[str, int], tuple[Any, dict[str, Any], str]] = {}
_FILLED_MAX = 4096


def _filled(strategy: str, options: Any) -> tuple[dict[str, Any], str]:
    """Options with the strategy's defaults filled in for keys a record lacks, and their canonical JSON.

    Why: options added to a strategy later (e.g. ``flag_lines``) are absent from older records, which
    measured their default; without filling, the same configuration would not match across files.
    """
    hit = _FILLED.get((strategy, id(options)))
    if hit is not None and hit[0] is options:
        return hit[1], hit[2]
    raw = options if isinstance(options, dict) else {}
    defaults = _default_options(strategy) or {}
    filled = {**{k: v for k, v in defaults.items() if k not in raw}, **raw}
    text = json.dumps(filled, sort_keys=True, default=str)
    if len(_FILLED) >= _FILLED_MAX:
        _FILLED.clear()
    _FILLED[(strategy, id(options))] = (options, filled, text)
    return filled, text


def options_of(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A record's options, defaults filled in for options its strategy gained after the record was made."""
    return _filled(rec["strategy"] or "", rec["options"])[0]


def combo_key(rec: Mapping[str, Any]) -> ComboKey:
    """Identity of a strategy + option set: (strategy, preset, options with defaults filled, as canonical JSON)."""
    return (rec["strategy"] or "", rec["preset"] or "", _filled(rec["strategy"] or "", rec["options"])[1])


def _default_options(strategy: str) -> dict[str, Any] | None:
    try:
        return _get_strategy(strategy).defaults()
    except ValueError:
        return None  # a custom or real-collective strategy the table does not hold


def mechanism(strategy: str) -> str:
    """'device', 'front-end', 'host' for built-in strategies; 'other' for the rest (custom, nccl)."""
    try:
        return _get_strategy(strategy).mechanism
    except ValueError:
        return "other"


def combo_label(strategy: str, preset: str | None, options: dict[str, Any] | None,
                varying: Iterable[str] | None = None) -> str:
    """Short human label: the strategy, its preset, and only the options worth naming.

    For a built-in strategy those are the options that differ from its defaults; for any other
    strategy, the options in ``varying`` (those that differ between records of the same report).
    """
    options = dict(options or {})
    preset = preset or options.get("preset")
    defaults = _default_options(strategy)
    if defaults is not None:
        shown = {k: v for k, v in options.items() if k in defaults and defaults[k] != v}
    else:
        shown = {k: options[k] for k in (varying or ()) if k in options}
    shown = {k: v for k, v in shown.items() if k not in HIDDEN_OPTIONS and k != "preset"}
    parts = [strategy] + ([preset] if preset else []) + [f"{k}={v}" for k, v in sorted(shown.items())]
    return " ".join(parts)


def varying_options(records: Sequence[dict[str, Any]]) -> set[str]:
    """Option names whose value differs between records of the same strategy."""
    seen: dict[tuple[str, str], dict[str, set[str]]] = {}
    for rec in records:
        per = seen.setdefault((rec["strategy"] or "", rec["preset"] or ""), {})
        for k, v in options_of(rec).items():
            per.setdefault(k, set()).add(json.dumps(v, sort_keys=True))
    return {k for per in seen.values() for k, vals in per.items() if len(vals) > 1}


def label_of(rec: dict[str, Any], varying: Iterable[str] | None = None) -> str:
    """How a record's strategy and options are named in tables (only options that vary)."""
    return combo_label(rec["strategy"] or "?", rec["preset"], options_of(rec), varying)


def group_runs(records: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Records grouped by run_id, runs and records kept in the order they were read."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        runs.setdefault(rec["run_id"] or "unknown", []).append(rec)
    return runs


def run_info(run_id: str, records: Sequence[dict[str, Any]]) -> RunInfo:
    """The shared identity of one run's records (the first record's, since all of them agree)."""
    first = records[0]
    kinds = tuple(dict.fromkeys(r["record_kind"] for r in records))
    times = sorted(r["time_utc"] for r in records if r["time_utc"])
    return RunInfo(run_id, first["gpu_name"], first["driver_version"], first["gpu_sm_count"],
                   first["waitbench_version"], times[0] if times else None, first["schema_version"], kinds)


def group_combos(records: Iterable[dict[str, Any]], *extra: str) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    """Records grouped by combo_key plus the values of the fields named in ``extra``, in order."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for rec in records:
        groups.setdefault(combo_key(rec) + tuple(rec[e] for e in extra), []).append(rec)
    return groups


def ordered_workloads(names: Iterable[str | None]) -> list[str]:
    """The workloads present, built-ins in their usual order, then the others by name."""
    present = {n for n in names if n}
    return [w for w in WORKLOAD_ORDER if w in present] + sorted(present - set(WORKLOAD_ORDER))


def strategy_order(strategy: str) -> int:
    """Position of a strategy in the strategy table (report order); unknown ones go last."""
    names = [s.name for s in _all_strategies()]
    return names.index(strategy) if strategy in names else len(names)


def median(values: Iterable[float | None]) -> float | None:
    """Median of the values that were measured; None when none was."""
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def half_range(values: Iterable[float | None]) -> float | None:
    """Half the spread between repetitions (None with fewer than two): the noise seen across repeats."""
    vals = [v for v in values if v is not None]
    return (max(vals) - min(vals)) / 2 if len(vals) >= 2 else None


def mode(values: Iterable[str | None]) -> str | None:
    """The most frequent value (the first seen on a tie), or None when there is none."""
    vals = [v for v in values if v]
    return max(dict.fromkeys(vals), key=vals.count) if vals else None
