# SPDX-License-Identifier: Apache-2.0
"""Records as the readers keep them: only the fields tables, charts and ``compare`` read, packed small.

Why: a results file of a long run is hundreds of megabytes; read into full records (about a hundred
keys each, with the argv, SM ids and every null reason) it took over six times its size in memory.
``report`` and ``compare`` stream the file instead and keep, per record, a read-only mapping of
the fields they read: a tuple of values, repeated strings interned and equal option sets shared.
Medians over repetitions still need every value, so memory grows with the records, but by a few
hundred bytes each instead of a few kilobytes. A test renders every committed results file from
full and from compact records and requires the same output, so no field the readers use is missing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..metrics import REPORTED

# Every field report/tables.py, report/pivot.py, report/plots.py, report/tradeoff.py, report/dispatch.py,
# report/dispatch_plot.py and compare.py read: the telemetry ones are those the metric table marks ``report``.
READ_FIELDS: tuple[str, ...] = (
    "schema_version", "record_kind", "run_id", "time_utc", "waitbench_version", "gpu_name", "gpu_sm_count",
    "driver_version", "strategy", "preset", "options", "workload", "status", "rank", "world_size", "collective",
    "late_s", "waiter_blocks", "waiter_threads", *(m.name for m in REPORTED), "wake_observe_p50_us",
    "wake_observe_p99_us", "wake_observe_p999_us", "wake_rtt_p50_us", "wake_rtt_p99_us", "wake_rtt_p999_us",
    "wake_floor_rtt_p50_us",
    "tput_unit", "tput_solo", "tput_ratio", "tput_ratio_spread_pct", "tput_noisy", "stall_ms",
    "completion_after_late_us", "protocol", "message_bytes", "side_call", "side_call_ms",
    "status_detail", "cpu_model", "dispatch_recv_p50_us", "dispatch_recv_p99_us", "dispatch_recv_p999_us",
    "dispatch_last_recv_p99_us", "dispatch_kernel_p50_us", "dispatch_kernel_p99_us", "dispatch_kernel_p999_us",
    "dispatch_last_kernel_p99_us",
    "dispatch_off_cpu_ratio", "dispatch_max_rate_hz",
)
_INDEX = {name: i for i, name in enumerate(READ_FIELDS)}


class CompactRecord(Mapping[str, Any]):
    """A read-only record holding READ_FIELDS only (KeyError, naming the list, for any other field)."""

    __slots__ = ("_values",)

    def __init__(self, values: tuple[Any, ...]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Any:
        try:
            return self._values[_INDEX[key]]
        except KeyError:
            raise KeyError(f"{key!r} is not kept for reports (waitbench.report.compact.READ_FIELDS)") from None

    def __iter__(self) -> Iterator[str]:
        return iter(READ_FIELDS)

    def __len__(self) -> int:
        return len(READ_FIELDS)


class Compactor:
    """Turns full records into CompactRecords, sharing equal option sets and interning strings."""

    def __init__(self) -> None:
        self._options: dict[str, dict[str, Any]] = {}

    def _shared_options(self, options: Any) -> Any:
        if not isinstance(options, dict):
            return options
        key = json.dumps(options, sort_keys=True, default=str)
        return self._options.setdefault(key, options)

    def __call__(self, rec: Mapping[str, Any]) -> CompactRecord:
        """``rec`` as a compact record: the fields reports read, values shared with earlier records."""
        values = []
        for name in READ_FIELDS:
            v = rec[name]
            if name == "options":
                v = self._shared_options(v)
            elif isinstance(v, str):
                v = sys.intern(v)
            values.append(v)
        return CompactRecord(tuple(values))


def compact_all(records: Iterable[Mapping[str, Any]]) -> list[CompactRecord]:
    """Compact records of a stream, consumed one at a time (the full records are never all in memory)."""
    compactor = Compactor()
    return [compactor(rec) for rec in records]
