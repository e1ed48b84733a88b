#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""waitbench's wake-up round trips beside the reference floor of each path, in one call.

Builds benchmarks/wake_floor.cu with nvcc (a harness sharing no code with waitbench), then runs it
and benchmarks/wake_latency.py (waitbench's own) alternately, --rounds times each, and prints per
path: the floor's p50/p99 and waitbench's rtt p50/p99 (medians over rounds), the median over rounds
of each round's ratio of p50s, and PASS/MISS against the goal of issue 16: an rtt p50 within 1.10x
of the floor's in the same round, a tail no longer than the hardware's own (an rtt p99 at most 2x its
p50, or else at most 1.10x the floor's p99: on the H200's VM the floor's own launch paths have a p99
over 2x their p50), and for the event paths a p50 at or below the figures measured before (16.5 and
49.9 us on the H200). The floor's probe rows (one
ingredient of a fuller harness each) follow, as medians of their p50s.

Usage: python3 benchmarks/wake_floor_compare.py --out DIR [--rounds 5] [--trials 10000] [--gpu 0]
Writes DIR/wake_floor_compare.json: both tools' figures of every round, and the table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# (floor path, waitbench case label, p50 before issue 16 on the H200, us): the event paths must not
# get slower than they were.
PATHS = [
    ("device-spin", "spin", None),
    ("stream-wait-value", "stream-wait-value", None),
    ("launch", "launch-floor", None),
    ("host-spin", "host-spin", None),
    ("host-yield", "host-yield", None),
    ("host-block", "host-block", None),
    ("event-spin-sync", "event-blocking-sync sync=spin", 16.5),
    ("event-blocking-sync", "event-blocking-sync", 49.9),
]
MAX_RATIO = 1.10
MAX_P99_OVER_P50 = 2.0


def gpu_arch(gpu: int) -> str:
    """sm_XY of the GPU from nvidia-smi, or nvcc's 'native' where that does not answer."""
    try:
        cap = subprocess.run(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader", "-i", str(gpu)],
                             capture_output=True, text=True, check=True).stdout.strip()
        return "sm_" + cap.replace(".", "")
    except (OSError, subprocess.CalledProcessError):
        return "native"


def build(nvcc: str, arch: str, into: Path) -> Path:
    """Nvcc the floor harness; the binary path."""
    exe = into / "wake_floor"
    cmd = [nvcc, "-O2", "-std=c++17", f"-arch={arch}", "-o", str(exe), str(HERE / "wake_floor.cu")]
    subprocess.run(cmd, check=True)
    return exe


def floor_round(exe: Path, gpu: int, trials: int, tmp: Path, r: int) -> dict:
    """One round of the standalone CUDA floor program (benchmarks/wake_floor.cu)."""
    out = tmp / f"floor{r}.json"
    proc = subprocess.run([str(exe), "--trials", str(trials), "--device", str(gpu), "--out", str(out)],
                          capture_output=True, text=True)
    if not out.is_file():
        raise SystemExit(f"wake_floor failed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    if proc.returncode:
        print(f"wake_floor round {r}: rc={proc.returncode}\n{proc.stdout}", file=sys.stderr)
    return json.loads(out.read_text())


def waitbench_round(gpu: int, trials: int, tmp: Path, r: int) -> dict:
    """One round of waitbench's own wake-up measurement of the same paths."""
    out = tmp / f"waitbench{r}.json"
    cases = ",".join(label for _, label, _ in PATHS)
    cmd = [sys.executable, str(HERE / "wake_latency.py"), "--trials", str(trials), "--gpu", str(gpu),
           "--cases", cases, "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)  # rc 1 = an H100 target missed: not ours
    if not out.is_file():
        raise SystemExit(f"wake_latency.py failed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(out.read_text())


def med(values: list[float]) -> float:
    """The median of ``values``, or NaN for none."""
    return statistics.median(values) if values else float("nan")


def summarize(floors: list[dict], waits: list[dict]) -> list[dict]:
    """One row per path: medians over rounds and the verdict."""
    rows = []
    for path, label, before in PATHS:
        f50, f99, w50, w99, ratios = [], [], [], [], []
        for fl, wb in zip(floors, waits, strict=False):  # rounds that both legs finished
            fr = next(p for p in fl["paths"] if p["path"] == path)
            wr = next(x for x in wb["rows"] if x["label"] == label)
            if fr["error"] or not fr["trials"]:
                continue
            f50.append(fr["p50_us"])
            f99.append(fr["p99_us"])
            w50.append(wr["wake_rtt_p50_us"])
            w99.append(wr["wake_rtt_p99_us"])
            ratios.append(wr["wake_rtt_p50_us"] / fr["p50_us"])
        row = {"path": path, "waitbench_case": label, "rounds": len(ratios), "floor_p50_us": med(f50),
               "floor_p99_us": med(f99), "waitbench_rtt_p50_us": med(w50), "waitbench_rtt_p99_us": med(w99),
               "ratio_p50": med(ratios), "ratio_p50_per_round": ratios, "before_p50_us": before}
        misses = []
        if not ratios:
            misses.append("no floor figure")
        else:
            if row["ratio_p50"] > MAX_RATIO:
                misses.append(f"p50 ratio > {MAX_RATIO}")
            if (row["waitbench_rtt_p99_us"] > MAX_P99_OVER_P50 * row["waitbench_rtt_p50_us"]
                    and row["waitbench_rtt_p99_us"] > MAX_RATIO * row["floor_p99_us"]):
                misses.append(f"p99 > {MAX_P99_OVER_P50:g}x p50 and > {MAX_RATIO}x the floor's p99")
            if before is not None and row["waitbench_rtt_p50_us"] > before:
                misses.append(f"p50 above {before} us")
        row["verdict"] = "PASS" if not misses else "MISS"
        row["why"] = "; ".join(misses)
        rows.append(row)
    return rows


def probes(floors: list[dict]) -> list[dict]:
    """The floor's probe rows: median p50/p99 over rounds."""
    names = [p["path"] for p in floors[0]["paths"] if p["kind"] == "probe"]
    out = []
    for name in names:
        rs = [p for fl in floors for p in fl["paths"] if p["path"] == name and not p["error"] and p["trials"]]
        out.append({"path": name, "note": rs[0]["note"] if rs else "", "p50_us": med([p["p50_us"] for p in rs]),
                    "p99_us": med([p["p99_us"] for p in rs])})
    return out


def main() -> int:
    """Build the floor program, alternate the rounds, write the comparison."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder for wake_floor_compare.json")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--gpu", type=int, default=0)
    ap.add_argument("--arch", help="nvcc -arch for the floor harness (default: the GPU's, from nvidia-smi)")
    ap.add_argument("--nvcc", default=shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc")
    args = ap.parse_args()
    if args.rounds < 1 or args.trials < 100:
        ap.error("--rounds must be >= 1 and --trials >= 100")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        exe = build(args.nvcc, args.arch or gpu_arch(args.gpu), tmp)
        floors, waits = [], []
        for r in range(args.rounds):
            floors.append(floor_round(exe, args.gpu, args.trials, tmp, r))
            waits.append(waitbench_round(args.gpu, args.trials, tmp, r))
            rows, extra = summarize(floors, waits), probes(floors)
            ident = waits[0].get("identity", {})
            (out / "wake_floor_compare.json").write_text(json.dumps(  # after every round: a cut-off call keeps it
                {"identity": ident, "rounds": len(floors), "trials": args.trials, "goal": {
                    "max_ratio_p50": MAX_RATIO, "max_p99_over_p50": MAX_P99_OVER_P50,
                    "max_p99_over_floor_p99": MAX_RATIO},
                 "table": rows, "probes": extra, "floor_runs": floors, "waitbench_runs": waits}, indent=1))
            print(f"round {r + 1}/{args.rounds} done ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    print(f"\nwake-up round trip, waitbench vs the floor harness on {ident.get('gpu_name', '?')} "
          f"(driver {ident.get('driver_version', '?')}), {args.rounds} rounds x {args.trials} trials, us")
    print(f"{'path':22} {'floor p50':>9} {'p99':>7} {'wb p50':>8} {'p99':>7} {'ratio':>6}  verdict")
    for r in rows:
        print(f"{r['path']:22} {r['floor_p50_us']:9.2f} {r['floor_p99_us']:7.2f} {r['waitbench_rtt_p50_us']:8.2f} "
              f"{r['waitbench_rtt_p99_us']:7.2f} {r['ratio_p50']:6.2f}  {r['verdict']} {r['why']}")
    print("floor probes (one ingredient each), median p50 / p99 us:")
    for p in extra:
        print(f"  {p['path']:24} {p['p50_us']:7.2f} {p['p99_us']:7.2f}  {p['note']}")
    calls = floors[-1].get("host_call_ns", {})
    print("host calls, ns each: " + ", ".join(f"{k} {v:.0f}" for k, v in calls.items()))
    return 0 if all(r["verdict"] == "PASS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
