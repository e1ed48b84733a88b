# SPDX-License-Identifier: Apache-2.0
"""Replaying a telemetry recording one refresh at a time, so ``diagnose --replay`` streams.

Why streamed (:func:`replay_refreshes` is the list of these): a recording of a long
``--watch --record`` session is hundreds of megabytes of raw series, and holding every window of it
took about ten times the file's size. Here windows are read one line
at a time (:func:`waitbench.telemetry.recording.iter_windows`), judged per refresh as soon as the
refresh's windows are read, and dropped once shown.

Grouping: consecutive windows with the same ``refresh`` number (diagnose --record) form one
refresh, so two sessions appended to one file replay one after the other; windows without a
number (benchmarks/record_telemetry.py's scenarios, one GPU at different times) form one group,
judged at the end of the file, each window labelled with its scenario and judged against its
``baseline_scenario`` window for power. ``baseline`` lines (the warm-idle power a live session was
judged against) are the power baselines of the windows that follow them; ``profile`` lines (the NCCL waits
of a refresh, diagnose.profiled) join the refresh of their number.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from ..telemetry.recording import iter_entries
from ..telemetry.summary import WindowSummary
from .profiled import JobWaits
from .refresh import Refresh, judge, warm_idle_window

Member = tuple[WindowSummary, dict[str, Any]]


def _recorded_window(s: WindowSummary, line: dict[str, Any]) -> WindowSummary:
    """A recording's ``baseline`` line as the idle window of GPU ``s`` (what diagnose judged it against)."""
    measured, note = line.get("measured_utc"), line.get("source")
    return warm_idle_window(s, line["power_w"], measured_utc=measured if isinstance(measured, str) else None,
                            note=note if isinstance(note, str) else None)


def _profile(line: dict[str, Any]) -> tuple[Any, JobWaits]:
    return line.get("refresh"), JobWaits.from_line(line)


def _judged(members: list[Member], position: int, by_scenario: dict[tuple[str, Any], WindowSummary],
            warm: dict[str, dict[str, Any]], ignore_gpm: bool, waits: dict[Any, list[JobWaits]]) -> Refresh:
    key = members[0][1].get("refresh")
    probes = {s.uuid: meta["probe"] for s, meta in members if isinstance(meta.get("probe"), dict)}
    idle = {s.uuid: _recorded_window(s, warm[s.uuid]) for s, _ in members if s.uuid in warm}
    idle.update({s.uuid: by_scenario[(s.uuid, meta["baseline_scenario"])] for s, meta in members
                 if isinstance(meta.get("baseline_scenario"), str)
                 and (s.uuid, meta["baseline_scenario"]) in by_scenario})
    labels = [meta.get("scenario") if isinstance(meta.get("scenario"), str) else None for _, meta in members]
    ref = judge([s for s, _ in members], index=key if isinstance(key, int) else position, ignore_gpm=ignore_gpm,
                probes=probes, idle=idle, labels=labels)
    ref.waits = waits.pop(key, []) if isinstance(key, int) else []
    return ref


def iter_refreshes(path: str | os.PathLike[str], *, ignore_gpm: bool = False) -> Iterator[Refresh]:
    """The refreshes of a recording, judged again (with today's thresholds), as the file is read.

    ResultsError when the file is missing, unreadable, or holds no window.
    """
    by_scenario: dict[tuple[str, Any], WindowSummary] = {}
    warm: dict[str, dict[str, Any]] = {}  # the latest warm-idle baseline line of each GPU
    unnumbered: list[Member] = []
    current: list[Member] = []
    waits: dict[Any, list[JobWaits]] = {}  # a refresh's profile lines follow its windows
    position = 0
    for kind, item in iter_entries(path, {"profile": _profile}):
        if kind == "baseline":
            warm[item["uuid"]] = item
            continue
        if kind == "profile":
            waits.setdefault(item[0], []).append(item[1])
            continue
        summary, meta = item
        scenario = meta.get("scenario")
        if isinstance(scenario, str):
            by_scenario[(summary.uuid, scenario)] = summary
        key = meta.get("refresh")
        if not isinstance(key, int) or isinstance(key, bool):
            unnumbered.append((summary, {**meta, "refresh": None}))
            continue
        if current and current[0][1].get("refresh") != key:
            yield _judged(current, position, by_scenario, warm, ignore_gpm, waits)
            position += 1
            current = []
        current.append((summary, meta))
    if current:
        yield _judged(current, position, by_scenario, warm, ignore_gpm, waits)
        position += 1
    if unnumbered:
        yield _judged(unnumbered, position, by_scenario, warm, ignore_gpm, waits)


def replay_refreshes(path: str | os.PathLike[str], *, ignore_gpm: bool = False) -> list[Refresh]:
    """The refreshes of a recording, judged again (with today's thresholds); ResultsError if unreadable.

    Every refresh at once: :func:`iter_refreshes` streams them (how they are grouped and which power
    baseline each window gets is said in this module's docstring).
    """
    return list(iter_refreshes(path, ignore_gpm=ignore_gpm))


def recorded_baselines(path: str | os.PathLike[str]) -> dict[str, WindowSummary]:
    """The warm-idle baselines a recorded session was judged against (its ``baseline`` lines), as idle windows."""
    windows: dict[str, WindowSummary] = {}
    lines: dict[str, dict[str, Any]] = {}
    for kind, item in iter_entries(path):
        if kind == "baseline":
            lines[item["uuid"]] = item
        else:
            windows.setdefault(item[0].uuid, item[0])
    return {u: _recorded_window(windows[u], line) for u, line in lines.items() if u in windows}
