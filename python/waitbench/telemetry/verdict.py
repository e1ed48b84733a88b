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
CONFIDENCE = ("high", "medium", "low")

# Thresholds, each set from device recordings under tests/data/telemetry/ (made by
# benchmarks/record_telemetry.py and `waitbench nccl --record`): the H100's (2026-11-24), an H200's real-work
# and emulated-waiter windows, and real NCCL waits on two H200s (NCCL 2.28.9: LL, LL128 and Simple, 1 and 24
# channels, 4 B and 256 MiB, all_reduce, broadcast and all_gather). The figures after each are what those read.
IDLE_UTIL_PCT = 5.0  # below = nothing resident: idle, host and front-end waits and late ranks asleep read 0.0%
#                      once the window opens after the previous work (one H100 recording without that settle: 5.5%)
RESIDENT_UTIL_PCT = 90.0  # at/above = a kernel resident all the window: every emulated waiter read 95.7-100% (H100)
#                           and 99.4-99.8% (H200), every real NCCL wait 99.2-99.8%. Between IDLE and this, kernels
#                           come and go, which a waiting kernel does not: tiny one-block kernels 19%, batch-1 decode 41%
SM_RESIDENT_PCT = 0.2  # GPM SM activity above this = some warp resident (used only without NVML util): one
#                        warp on one SM reads 0.7-0.76% (1 of 132 SMs), idle 0.0%
PIPE_WORK_PCT = 2.0  # a tensor or floating-point pipe at/above this computes: every waiter, emulated or NCCL, read
#                      0.00%; the GEMM's tensor pipe 92-93%
INT_WORK_PCT = 2.0  # the integer pipe computes only at/above this AND at/above INT_PER_ACTIVE_SM of SM activity:
INT_PER_ACTIVE_SM = 0.5  # polling loops issue integer instructions too. NCCL waits read up to 4.0% (LL128, 24
#                          channels of 640 threads on 17% of the SMs: 0.24 per active SM), emulated LL shapes 2.3-2.8%
#                          (0.13-0.15); an integer hash kernel 100% on 98% of the SMs (1.02)
DRAM_WORK_PCT = 5.0  # GPM DRAM bandwidth at/above this moves memory: every waiter 0.0%, batch-1 decode 14.7%,
#                      GEMM 17-25%, copy loop 87-89%
MEM_UTIL_WORK_PCT = 5.0  # NVML memory utilization at/above this moves memory (every GPU has it): every waiter and
#                          real NCCL wait 0.0%, batch-1 decode 18%, GEMM 24%, copy 100%
POWER_WORK_OVER_IDLE_FRACTION = 0.25  # power over the warm-idle baseline >= this share of the limit (175 W of
#                                       700) is work: waits read up to +94 W (NCCL LL128, 24 channels, H200), the
#                                       integer hash +285 W, the copy loop +300-361 W, the GEMM +571-659 W
POWER_WORK_FRACTION = 0.5  # without a baseline, power >= this share of the limit (350 W) is work: waits read 119-210 W,
#                            the integer hash 408 W, the copy loop 376-484 W, the GEMM 693-733 W
IDLE_POWER_RANGE_W = (1.0, 1000.0)  # a warm-idle power no GPU reads outside (a few W on small cards, 70-120 W on
#                                     H100/H200 boards): a cached or recorded baseline outside it is corrupt

THRESHOLDS = {
    "idle_util_pct": IDLE_UTIL_PCT, "resident_util_pct": RESIDENT_UTIL_PCT, "sm_resident_pct": SM_RESIDENT_PCT,
    "pipe_work_pct": PIPE_WORK_PCT, "int_work_pct": INT_WORK_PCT, "int_per_active_sm": INT_PER_ACTIVE_SM,
    "dram_work_pct": DRAM_WORK_PCT, "mem_util_work_pct": MEM_UTIL_WORK_PCT,
    "power_work_over_idle_fraction": POWER_WORK_OVER_IDLE_FRACTION, "power_work_fraction": POWER_WORK_FRACTION,
}


@dataclass(frozen=True)
class Verdict:
    """What a window says: the verdict, why, how sure, and from which counters.

    ``verdict`` is one of :data:`VERDICTS`, ``reason`` one line; with the numbers used, how sure it is
    (``confidence``, one of :data:`CONFIDENCE`) and which counters decided it (``signals``).
    """

    verdict: str
    reason: str
    inputs: dict[str, Any] = field(default_factory=dict)
    confidence: str = "high"
    signals: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The verdict as a JSON-ready dict."""
        return {"verdict": self.verdict, "reason": self.reason, "confidence": self.confidence,
                "signals": list(self.signals), "inputs": self.inputs}


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}%"


def _inputs(s: WindowSummary, idle: WindowSummary | None) -> dict[str, Any]:
    pipes = {f: getattr(s, f) for f in PIPE_FIELDS if getattr(s, f) is not None}
    top = max(pipes, key=lambda f: pipes[f]) if pipes else None
    compute = {f: v for f, v in pipes.items() if f != "gpm_int_util_pct"}
    idle_w, delta = s.power_over_idle(idle)
    missing = [f for f in ("nvml_util_pct", "nvml_mem_util_pct", "gpm_sm_util_pct", *PIPE_FIELDS,
                           "gpm_dram_bw_util_pct", "power_w", "power_limit_w") if getattr(s, f) is None]
    if idle_w is None:
        missing.append("power_idle_w")
    return {
        "nvml_util_pct": s.nvml_util_pct, "nvml_mem_util_pct": s.nvml_mem_util_pct,
        "gpm_sm_util_pct": s.gpm_sm_util_pct, "gpm_sm_occupancy_pct": s.gpm_sm_occupancy_pct,
        "max_pipe": top, "max_pipe_pct": pipes[top] if top else None,
        "max_compute_pipe_pct": max(compute.values()) if compute else None, "gpm_int_util_pct": s.gpm_int_util_pct,
        "gpm_dram_bw_util_pct": s.gpm_dram_bw_util_pct, "power_w": s.power_w, "power_idle_w": idle_w,
        "power_delta_w": delta, "power_limit_w": s.power_limit_w, "window_s": s.window_s,
        "missing": missing, "missing_reasons": {f: s.null_reasons[f] for f in missing if f in s.null_reasons},
        "thresholds": dict(THRESHOLDS),
    }


def _work_evidence(inp: dict[str, Any]) -> tuple[list[str], list[str]]:
    """What in the counters shows real work (empty: nothing does), and which signals showed it."""
    found, signals = [], []
    compute = inp["max_compute_pipe_pct"]
    if compute is not None and compute >= PIPE_WORK_PCT:
        pipe = inp["max_pipe"].removeprefix("gpm_").removesuffix("_util_pct")
        found.append(f"{pipe} pipe {_pct(inp['max_pipe_pct'])}")
        signals.append("gpm pipes")
    integer, sm = inp["gpm_int_util_pct"], inp["gpm_sm_util_pct"]
    if integer is not None and integer >= INT_WORK_PCT and (not sm or integer / sm >= INT_PER_ACTIVE_SM):
        found.append(f"integer pipe {_pct(integer)}" + (f" on {_pct(sm)} of the SMs" if sm else ""))
        signals.append("gpm integer pipe")
    dram = inp["gpm_dram_bw_util_pct"]
    if dram is not None and dram >= DRAM_WORK_PCT:
        found.append(f"DRAM bandwidth {_pct(dram)}")
        signals.append("gpm dram")
    mem = inp["nvml_mem_util_pct"]
    if dram is None and mem is not None and mem >= MEM_UTIL_WORK_PCT:
        found.append(f"memory utilization {_pct(mem)}")
        signals.append("nvml memory utilization")
    limit, delta, power = inp["power_limit_w"], inp["power_delta_w"], inp["power_w"]
    if limit and delta is not None and delta >= POWER_WORK_OVER_IDLE_FRACTION * limit:
        found.append(f"power {delta:.0f} W over idle ({100 * delta / limit:.0f}% of the {limit:.0f} W limit)")
        signals.append("power over warm idle")
    elif limit and delta is None and power is not None and power >= POWER_WORK_FRACTION * limit:
        found.append(f"power {power:.0f} W ({100 * power / limit:.0f}% of the {limit:.0f} W limit)")
        signals.append("power against the limit")
    return found, signals


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
        return Verdict("unknown", f"no utilization counter could be read ({why})", inp, "low")
    util_signal = ("nvml utilization",) if reported is not None else ("gpm sm activity",)
    evidence, signals = _work_evidence(inp)
    if evidence:
        sure = "high" if any(x.startswith("gpm") for x in signals) else "medium"
        return Verdict("busy", "real work: " + ", ".join(evidence), inp, sure, (*util_signal, *signals))
    resident = reported >= RESIDENT_UTIL_PCT if reported is not None else sm is not None and sm > SM_RESIDENT_PCT
    quiet = reported < IDLE_UTIL_PCT if reported is not None else sm is not None and sm <= SM_RESIDENT_PCT
    power = _power_note(inp)
    if quiet:
        return Verdict("idle", f"reported {_pct(reported)}: no kernel resident; {power}", inp, "high", util_signal)
    if not resident:
        return Verdict("busy", f"kernels come and go (one resident {_pct(reported)} of the window), as work does: a "
                               f"waiting kernel stays resident; {power}", inp, "medium", util_signal)
    if has_gpm:
        detail = (f"reported {_pct(reported)}, SM activity {_pct(sm)}, busiest pipe {_pct(inp['max_pipe_pct'])}, "
                  f"DRAM {_pct(inp['gpm_dram_bw_util_pct'])}, {power}")
        return Verdict("busy-waiting", f"a resident kernel is waiting: {detail}", inp, "high",
                       (*util_signal, "gpm pipes", "gpm dram", "power"))
    return _without_gpm(inp, util_signal)


def _without_gpm(inp: dict[str, Any], util_signal: tuple[str, ...]) -> Verdict:
    """A kernel resident all the window, no GPM: waiting when it moves no memory and draws no more power.

    No more power than waits draw; how sure depends on the power baseline. What cannot be told apart is
    said in the reason.
    """
    gpm_why = inp["missing_reasons"].get("gpm_tensor_util_pct") or inp["missing_reasons"].get("gpm_sm_util_pct") \
        or "GPM absent"
    mem, limit, delta, power = (inp["nvml_mem_util_pct"], inp["power_limit_w"], inp["power_delta_w"],
                                inp["power_w"])
    head = f"reported {_pct(inp['nvml_util_pct'])} with no GPM ({gpm_why})"
    if mem is None or power is None or not limit:
        missing = ", ".join(n for n, x in (("memory utilization", mem), ("power", power), ("power limit", limit))
                            if x is None)
        return Verdict("unknown", f"{head}, and no {missing}: a waiting kernel and compute-bound work look alike "
                                  "on utilization alone", inp, "low", util_signal)
    caveat = ("; without GPM a compute kernel that touches no memory and draws less power would read the same "
              "(GPM's pipe counters, Hopper and newer, tell them apart)")
    if delta is not None:
        work_w = POWER_WORK_OVER_IDLE_FRACTION * limit
        return Verdict("busy-waiting", f"{head}: a resident kernel that moves no memory (memory {_pct(mem)}) and draws "
                                       f"{delta:+.0f} W over this GPU's warm-idle baseline, under the "
                                       f"{work_w:.0f} W that work draws: waiting{caveat}",
                       inp, "medium", (*util_signal, "nvml memory utilization", "power over warm idle"))
    return Verdict("busy-waiting", f"{head}: a resident kernel that moves no memory (memory {_pct(mem)}) at "
                                   f"{power:.0f} W, under half the {limit:.0f} W limit: probably waiting, but with no "
                                   "warm-idle baseline for this GPU the power says little (diagnose --probe on an idle "
                                   f"GPU measures one){caveat}",
                   inp, "low", (*util_signal, "nvml memory utilization", "power against the limit"))


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
                       inp, activity.confidence, activity.signals)
    return activity
