#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Reference run of `waitbench nccl` on a 2-GPU machine, after `pip install --no-build-isolation --no-deps .`:
#   1. the multi-GPU tests (pytest -m multigpu tests/nccl), log in $OUT/nccl-pytest.log;
#   2. every mode, all_reduce, rank 0 arriving 3 s late: JSON Lines to OUT_JSONL (replaced: a reference
#      file holds one run), console in $OUT/nccl-run.log, NCCL's INIT/ENV/TUNING log of every rank process
#      (does each mode's NCCL_* knob apply?) in $OUT/nccl-logs.tgz;
#   3. a short table: one line per mode and rank.
# Usage, from anywhere: bash benchmarks/nccl_reference.sh [OUT_JSONL]
#   OUT_JSONL defaults to benchmarks/results/h200-x2/nccl-all_reduce-late3s.jsonl; $OUT to /tmp/wbout.
# Expected duration (estimated, not yet timed on a GPU): about 3 minutes (2 + 7 modes, each in fresh
# processes); capped at 270 s in all, and an interrupted run keeps the modes it finished.
# Exit status: nonzero if the tests or the run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/wbout}
out=${1:-benchmarks/results/h200-x2/nccl-all_reduce-late3s.jsonl}
logs=$(mktemp -d)
mkdir -p "$OUT" "$(dirname "$out")" "$logs/pytest" "$logs/run"
rm -f "$out"
# NVLink multicast stays off on the project's GPU machines (it can take a shared host's GPUs out of
# service): forced here, not defaulted; waitbench also sets the first two in every rank it starts.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,ENV,TUNING PYTHONUNBUFFERED=1

echo "== pytest -m multigpu tests/nccl ($(date +%T))"
NCCL_DEBUG_FILE="$logs/pytest/nccl.%h.%p.log" timeout --signal=INT 90 \
  python3 -m pytest -m multigpu tests/nccl -rs -q -p no:cacheprovider 2>&1 | tee "$OUT/nccl-pytest.log"
test_rc=${PIPESTATUS[0]}

echo "== waitbench nccl, every mode ($(date +%T))"
t0=$SECONDS
NCCL_DEBUG_FILE="$logs/run/nccl.%h.%p.log" timeout --signal=INT 180 \
  python3 -m waitbench nccl --backend nccl --nproc 2 --modes all --collective all_reduce --late-s 3 \
  --late-rank 0 --out "$out" 2>&1 | tee "$OUT/nccl-run.log"
run_rc=${PIPESTATUS[0]}
echo "run took $((SECONDS - t0)) s"
tar czf "$OUT/nccl-logs.tgz" -C "$logs" .  # the device returns at most 8 files

echo "== $out"
python3 - "$out" <<'EOF'
import json
import sys


def cell(value, spec):
    return "-" if value is None else format(value, spec)


print(f"{'mode':<20} {'rank':<10} {'status':<8} {'nvml_util_pct':>13} {'sm_activity_pct':>15} "
      f"{'fma_ratio':>9} {'completion_after_late_us':>24}")
try:
    lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
except OSError as exc:
    sys.exit(f"no results: {exc}")
for line in lines:
    r = json.loads(line)
    rank = f"{r['rank']} {r['role']}"
    print(f"{r['strategy']:<20} {rank:<10} {r['status']:<8} {cell(r['nvml_util_pct'], '.0f'):>13} "
          f"{cell(r['gpm_sm_util_pct'], '.1f'):>15} {cell(r['tput_ratio'], '.3f'):>9} "
          f"{cell(r['completion_after_late_us'], '.0f'):>24}")
EOF
echo "tests rc=$test_rc run rc=$run_rc"
[ "$test_rc" -eq 0 ] && [ "$run_rc" -eq 0 ]
