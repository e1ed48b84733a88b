# SPDX-License-Identifier: Apache-2.0
"""The verdict on one window: idle, busy, busy-waiting, shared, or unknown, with its reason and inputs.

Why it never rests on SM activity: GPM's SM activity counts SMs holding any resident warp, so a
waiter on every SM reads 100% while nothing works, and NVML's utilization counts any resident
kernel. Work shows in the pipes (tensor, FP64/32/16, integer), in DRAM traffic and in power over the
idle baseline; residency without any of those is a kernel that waits. Where GPM is absent the
counters cannot tell waiting from compute-bound work, and the verdict says ``unknown`` and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .gpm import PIPE_FIELDS
from .summary import WindowSummary

VERDICTS = ("idle", "busy", "busy-waiting", "shared", "unknown")

# Thresholds, each set from the H100 recordings in tests/data/telemetry/h100-580.159.04.jsonl (made by
# benchmarks/record_telemetry.py on the lent H100, 2026-11-24) and the reference run in
# benchmarks/results/h100/run.jsonl. The figures after each constant are what those measured.
IDLE_UTIL_PCT = 5.0  # below = nothing resident: idle and every host/front-end wait read 0.0% once the window
#                      opens after the previous work (one recording without that settle read 5.5%)
RESIDENT_UTIL_PCT = 50.0  # at/above = a kernel resident most of the window: every waiter shape read 95.7-100%
SM_RESIDENT_PCT = 0.2  # GPM SM activity above this = some warp resident (used only without NVML util): one
#                        warp on one SM reads 0.7-0.76% (1 of 132 SMs), idle 0.0%
PIPE_WORK_PCT = 2.0  # any pipe at/above this computes: the busiest pipe of every waiter read 0.0%; the GEMM's
#                      tensor pipe 92-93%, the copy loop's integer pipe 5.5%
DRAM_WORK_PCT = 5.0  # GPM DRAM bandwidth at/above this moves memory: waiters 0.0%, GEMM 25%, copy loop 88-89%
MEM_UTIL_WORK_PCT = 5.0  # NVML memory utilization at/above this moves memory (no-GPM fallback; same split as DRAM)
POWER_WORK_OVER_IDLE_FRACTION = 0.25  # power over idle >= this share of the limit (175 W of 700) is work:
#                                       waiters read +44-55 W over a cold idle (the clock state, not the waiter),
#                                       the copy loop +300 W, the GEMM +631-659 W
POWER_WORK_FRACTION = 0.5  # without an idle baseline, power >= this share of the limit (350 W) is work: waiters
#                            read 119-136 W, the copy loop 376 W, the GEMM 733 W

THRESHOLDS = {
    "idle_util_pct": IDLE_UTIL_PCT, "resident_util_pct": RESIDENT_UTIL_PCT, "sm_resident_pct": SM_RESIDENT_PCT,
    "pipe_work_pct": PIPE_WORK_PCT, "dram_work_pct": DRAM_WORK_PCT, "mem_util_work_pct": MEM_UTIL_WORK_PCT,
    "power_work_over_idle_fraction": POWER_WORK_OVER_IDLE_FRACTION, "power_work_fraction": POWER_WORK_FRACTION,
}


@dataclass(frozen=True)
class Verdict:
    """What a window says: ``verdict`` (one of :data:`VERDICTS`), a one-line ``reason``, and the numbers used."""

    verdict: str
    reason: str
    inputs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reason": self.reason, "inputs": self.inputs}


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}%"


def _inputs(s: WindowSummary, idle: WindowSummary | None) -> dict[str, Any]:
    pipes = {f: getattr(s, f) for f in PIPE_FIELDS if getattr(s, f) is not None}
    top = max(pipes, key=lambda f: pipes[f]) if pipes else None
    idle_w = idle.power_w if idle is not None else None
    delta = s.power_w - idle_w if s.power_w is not None and idle_w is not None else None
    missing = [f for f in ("nvml_util_pct", "nvml_mem_util_pct", "gpm_sm_util_pct", *PIPE_FIELDS,
                           "gpm_dram_bw_util_pct", "power_w", "power_limit_w") if getattr(s, f) is None]
    if idle_w is None:
        missing.append("power_idle_w")
    return {
        "nvml_util_pct": s.nvml_util_pct, "nvml_mem_util_pct": s.nvml_mem_util_pct,
        "gpm_sm_util_pct": s.gpm_sm_util_pct, "gpm_sm_occupancy_pct": s.gpm_sm_occupancy_pct,
        "max_pipe": top, "max_pipe_pct": pipes[top] if top else None,
        "gpm_dram_bw_util_pct": s.gpm_dram_bw_util_pct, "power_w": s.power_w, "power_idle_w": idle_w,
        "power_delta_w": delta, "power_limit_w": s.power_limit_w, "window_s": s.window_s,
        "missing": missing, "missing_reasons": {f: s.null_reasons[f] for f in missing if f in s.null_reasons},
        "thresholds": dict(THRESHOLDS),
    }


def _work_evidence(inp: dict[str, Any]) -> list[str]:
    """What in the counters shows real work (empty: nothing does)."""
    found = []
    if inp["max_pipe_pct"] is not None and inp["max_pipe_pct"] >= PIPE_WORK_PCT:
        pipe = inp["max_pipe"].removeprefix("gpm_").removesuffix("_util_pct")
        found.append(f"{pipe} pipe {_pct(inp['max_pipe_pct'])}")
    dram = inp["gpm_dram_bw_util_pct"]
    if dram is not None and dram >= DRAM_WORK_PCT:
        found.append(f"DRAM bandwidth {_pct(dram)}")
    mem = inp["nvml_mem_util_pct"]
    if dram is None and mem is not None and mem >= MEM_UTIL_WORK_PCT:
        found.append(f"memory utilization {_pct(mem)}")
    limit, delta, power = inp["power_limit_w"], inp["power_delta_w"], inp["power_w"]
    if limit and delta is not None and delta >= POWER_WORK_OVER_IDLE_FRACTION * limit:
        found.append(f"power {delta:.0f} W over idle ({100 * delta / limit:.0f}% of the {limit:.0f} W limit)")
    elif limit and delta is None and power is not None and power >= POWER_WORK_FRACTION * limit:
        found.append(f"power {power:.0f} W ({100 * power / limit:.0f}% of the {limit:.0f} W limit)")
    return found


def _power_note(inp: dict[str, Any]) -> str:
    if inp["power_delta_w"] is not None:
        return f"power {inp['power_delta_w']:+.0f} W over idle"
    if inp["power_w"] is not None:
        return f"power {inp['power_w']:.0f} W (no idle baseline)"
    return "power unknown"


def _activity(s: WindowSummary, inp: dict[str, Any]) -> Verdict:
    reported, sm = inp["nvml_util_pct"], inp["gpm_sm_util_pct"]
    has_gpm = inp["max_pipe_pct"] is not None
    if reported is None and not has_gpm and sm is None:
        why = "; ".join(f"{k}: {v}" for k, v in inp["missing_reasons"].items()
                        if k in ("nvml_util_pct", "gpm_sm_util_pct")) or "no reason given"
        return Verdict("unknown", f"no utilization counter could be read ({why})", inp)
    evidence = _work_evidence(inp)
    if evidence:
        return Verdict("busy", "real work: " + ", ".join(evidence), inp)
    resident = reported >= RESIDENT_UTIL_PCT if reported is not None else sm is not None and sm > SM_RESIDENT_PCT
    quiet = reported < IDLE_UTIL_PCT if reported is not None else sm is not None and sm <= SM_RESIDENT_PCT
    power = _power_note(inp)
    if has_gpm:
        detail = (f"reported {_pct(reported)}, SM activity {_pct(sm)}, busiest pipe {_pct(inp['max_pipe_pct'])}, "
                  f"DRAM {_pct(inp['gpm_dram_bw_util_pct'])}, {power}")
        if resident:
            return Verdict("busy-waiting", f"a resident kernel is waiting: {detail}", inp)
        return Verdict("idle", f"no pipe or DRAM activity: {detail}", inp)
    gpm_why = inp["missing_reasons"].get("gpm_tensor_util_pct") or inp["missing_reasons"].get("gpm_sm_util_pct") \
        or "GPM absent"
    if quiet:
        return Verdict("idle", f"reported {_pct(reported)}: no kernel resident; {power}", inp)
    return Verdict("unknown", f"reported {_pct(reported)} with no GPM ({gpm_why}): a waiting kernel and compute-bound "
                              f"work look alike here; memory {_pct(inp['nvml_mem_util_pct'])}, {power}", inp)


def classify(summary: WindowSummary, idle: WindowSummary | None = None, *,
             observer: Literal["inside", "outside"] = "inside") -> Verdict:
    """The verdict on one window, with ``idle`` as the power baseline (same GPU, nothing running).

    ``observer="inside"`` (Monitor, the runner): the measuring process may be on the GPU itself, and
    any other compute process makes the verdict ``shared``. ``observer="outside"`` (diagnose): the
    processes on the GPU are the subject; two or more of them make it ``shared``.
    """
    if observer not in ("inside", "outside"):
        raise ValueError(f"observer={observer!r} is invalid: expected 'inside' or 'outside'")
    inp = _inputs(summary, idle)
    activity = _activity(summary, inp)
    others = summary.other_processes() if observer == "inside" else summary.processes
    limit = 0 if observer == "inside" else 1
    if len(others) > limit:
        pids = ", ".join(str(p["pid"]) for p in others)
        hidden = all(p.get("name") is None for p in others) and observer == "inside"
        note = " (not visible from this PID namespace: in a container one may be this process)" if hidden else ""
        inp = {**inp, "activity_verdict": activity.verdict, "other_pids": [p["pid"] for p in others]}
        return Verdict("shared", f"{len(others)} {'other ' if observer == 'inside' else ''}process(es) on this GPU "
                                 f"(pid {pids}){note}; the counters alone say {activity.verdict}: {activity.reason}",
                       inp)
    return activity
