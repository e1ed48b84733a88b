# SPDX-License-Identifier: Apache-2.0
"""Which process holds a GPU's resident kernel: its compute processes, and the holder where NVML can tell.

Each process comes with its command line; where NVML cannot name the holder, the reason says why.

Why a module of its own: "this GPU busy-waits" is only actionable with the process to look at.
NVML lists the processes that hold a context on a GPU (``nvmlDeviceGetComputeRunningProcesses``,
read by the sampler at each window's begin and end), but a context is not a kernel: a process that
merely imported torch is listed too. ``nvmlDeviceGetProcessUtilization`` gives, per process, the
share of recent driver periods its kernels were resident ("smUtil", the per-process form of
utilization.gpu), which tells the holder apart from bystanders where the driver supports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psutil

from ..errors import NvmlError
from ..telemetry import nvml

# PROVISIONAL: to be derived from device recordings. A process whose kernels were resident for at least
# this share of the window (nvmlDeviceGetProcessUtilization smUtil, mean over its samples) holds a
# resident kernel: a waiter reads ~100 there, as utilization.gpu does.
HOLDER_MIN_SM_UTIL_PCT = 50.0
# PROVISIONAL: to be derived from device recordings. At or below this a process is a bystander (a context
# without resident kernels, e.g. a monitoring tool or an idle notebook).
BYSTANDER_MAX_SM_UTIL_PCT = 5.0
CMDLINE_MAX_CHARS = 300
UTIL_REASON_KEY = "process_sm_util_pct"  # where enrich() leaves the reason per-process utilization is missing


def cmdline(pid: int) -> str | None:
    """The command line of ``pid`` (psutil), or None where this PID namespace cannot see it or may not read it."""
    try:
        parts = psutil.Process(pid).cmdline()
    except (psutil.Error, ValueError, OverflowError):  # gone, hidden, a zombie, denied, or no valid pid
        return None
    text = " ".join(p for p in parts if p)
    return text[:CMDLINE_MAX_CHARS] + ("..." if len(text) > CMDLINE_MAX_CHARS else "") if text else None


def process_sm_util(handle: Any, since_us: int) -> tuple[dict[int, float] | None, str | None]:
    """Mean per-process SM utilization (percent) since ``since_us`` (host wall clock, microseconds).

    API: ``nvmlDeviceGetProcessUtilization(h, lastSeenTimeStamp)`` returns one sample per process and
    driver period (~200 ms here) newer than the timestamp; NVML_ERROR_NOT_FOUND means no process had
    any activity (an empty result, not a failure). Returns ``(None, reason)`` where the driver cannot say.
    """
    try:
        samples = nvml.call("nvmlDeviceGetProcessUtilization", handle, int(since_us))
    except NvmlError as exc:
        if exc.code == 6:  # NVML_ERROR_NOT_FOUND: no samples since since_us
            return {}, None
        return None, str(exc)
    per_pid: dict[int, list[float]] = {}
    for s in samples:
        if int(s.timeStamp) >= since_us:
            per_pid.setdefault(int(s.pid), []).append(float(s.smUtil))
    return {pid: sum(v) / len(v) for pid, v in per_pid.items()}, None


def enrich(processes: list[dict[str, Any]], null_reasons: dict[str, str], *, handle: Any = None,
           since_us: int | None = None) -> None:
    """Add each process's command line and, where NVML gives it, its SM utilization over the window.

    Works in place on a window summary's ``processes`` and ``null_reasons``, so a recorded window
    keeps what diagnose saw.
    """
    util: dict[int, float] | None = None
    if handle is not None and since_us is not None:
        util, why = process_sm_util(handle, since_us)
        if util is None:
            null_reasons[UTIL_REASON_KEY] = why or "not measured"
    for p in processes:
        if "cmdline" not in p:
            p["cmdline"] = cmdline(int(p["pid"]))
        if util is not None:
            p["sm_util_pct"] = util.get(int(p["pid"]), 0.0)


@dataclass(frozen=True)
class Holder:
    """The process that holds the resident kernel (``pid`` None: NVML cannot tell) and how that was decided."""

    pid: int | None
    how: str

    def to_dict(self) -> dict[str, Any]:
        """The holder as a JSON-ready dict."""
        return {"pid": self.pid, "how": self.how}


def describe(p: dict[str, Any]) -> str:
    """``pid 933 python3 (518 MiB): python3 train.py`` (what is known of one process)."""
    name = p.get("name") or "?"
    mem = p.get("used_memory_bytes")
    text = f"pid {p['pid']} {name}" + (f" ({mem / 2**20:.0f} MiB)" if mem is not None else "")
    if p.get("sm_util_pct") is not None:
        text += f", kernels resident {p['sm_util_pct']:.0f}%"
    if p.get("cmdline"):
        text += f": {p['cmdline']}"
    elif p.get("name") is None:
        text += ": not visible from this PID namespace (a container?)"
    return text


def name_holder(processes: Sequence[dict[str, Any]], null_reasons: dict[str, str] | None = None) -> Holder:
    """Which of ``processes`` holds the resident kernel, where NVML can tell; else why it cannot."""
    reasons = null_reasons or {}
    if not processes:
        why = reasons.get("processes")
        return Holder(None, "NVML lists no compute process on this GPU" + (f" ({why})" if why else
                            " (in a container, processes of other PID namespaces may be hidden)"))
    measured = [p for p in processes if p.get("sm_util_pct") is not None]
    if len(measured) == len(processes):
        holding = [p for p in measured if p["sm_util_pct"] >= HOLDER_MIN_SM_UTIL_PCT]
        idle = [p for p in measured if p["sm_util_pct"] <= BYSTANDER_MAX_SM_UTIL_PCT]
        if len(holding) == 1 and len(idle) == len(processes) - 1:
            p = holding[0]
            others = f"; the other {len(idle)} had none" if idle else ""
            return Holder(int(p["pid"]), f"per-process utilization (nvmlDeviceGetProcessUtilization): pid {p['pid']} "
                                         f"had kernels resident {p['sm_util_pct']:.0f}% of the window{others}")
        if len(holding) > 1:
            pids = ", ".join(str(p["pid"]) for p in holding)
            return Holder(None, f"several processes had kernels resident (pid {pids}): NVML cannot say which one waits")
    if len(processes) == 1:
        return Holder(int(processes[0]["pid"]), "the only compute process on this GPU")
    if len(measured) == len(processes):
        shares = ", ".join(f"pid {p['pid']} {p['sm_util_pct']:.0f}%" for p in measured)
        why = f"per-process utilization names none clearly: {shares}"
    else:
        why = reasons.get(UTIL_REASON_KEY, "no per-process utilization in this window")
    return Holder(None, f"{len(processes)} compute processes and NVML cannot tell whose kernel is resident ({why})")
