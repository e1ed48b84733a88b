#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Reference run of `waitbench nccl` on a 2-GPU machine, after `pip install --no-build-isolation --no-deps .`.
# Stages (all by default; STAGES="cells modes calls" picks some):
#   tests  pytest -m multigpu tests/nccl                                   -> $OUT/nccl-pytest.log
#   cells  modes nccl and nccl-1ch, every protocol x collective x {1, 64Mi} floats, rank 0 2.5 s late,
#          then the emulated stand-in of each real wait (--emulate)      -> DIR/nccl-cells.jsonl
#   modes  the other modes, one small all_reduce each                      -> DIR/nccl-modes.jsonl
#   calls  which common CUDA calls wait for a late rank                    -> DIR/nccl-calls.jsonl
# Every stage's telemetry windows go to tests/data/telemetry/h200x2-<driver>-nccl<version>.jsonl (replaced),
# NCCL's INIT/ENV log of every rank process (channels, the NCCL_* values it read) to DIR/logs/; the
# protocol and algorithm NCCL launched are in each record's kernel name (profiled). TUNING logs a line
# per collective on the caller's thread, inside the late rank's wake-up path, so it stays off.
# Usage, from anywhere: bash benchmarks/nccl_reference.sh [DIR]   (DIR: benchmarks/results/h200-x2)
# Expected duration: cells about 6 minutes, modes 1.5, calls 0.5, tests 1.5; each stage is capped.
# Exit status: nonzero if a stage failed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/wbout}
dir=${1:-benchmarks/results/h200-x2}
stages=${STAGES:-tests cells modes calls}
mkdir -p "$OUT" "$dir/logs"
# NVLink multicast stays off on the project's GPU machines (it can take a shared host's GPUs out of
# service): forced here, not defaulted; waitbench also sets the first two in every rank it starts.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,ENV PYTHONUNBUFFERED=1
ident=$(python3 - <<'EOF'
import pynvml, torch
pynvml.nvmlInit()
print(f"h200x2-{pynvml.nvmlSystemGetDriverVersion()}-nccl{'.'.join(map(str, torch.cuda.nccl.version()[:3]))}")
EOF
)
recording=tests/data/telemetry/${ident:-h200x2}.jsonl
rc=0
common=(--backend nccl --nproc 2 --late-rank 0 --record "$recording")

stage() {  # stage NAME SECONDS COMMAND...: run, log to $OUT/nccl-NAME.log, remember a failure
  local name=$1 limit=$2
  shift 2
  echo "== $name ($(date +%T))"
  local t0=$SECONDS
  NCCL_DEBUG_FILE="$dir/logs/nccl-$name.%h.%p.log" timeout --signal=INT "$limit" "$@" 2>&1 | tee "$OUT/nccl-$name.log"
  local s=${PIPESTATUS[0]}
  echo "$name took $((SECONDS - t0)) s, exit $s"
  [ "$s" -eq 0 ] || rc=1
}

for s in $stages; do
  case $s in
    tests) stage tests 150 python3 -m pytest -m multigpu tests/nccl -rs -q -p no:cacheprovider ;;
    cells) rm -f "$dir/nccl-cells.jsonl" "$recording"
           stage cells 560 python3 -m waitbench nccl "${common[@]}" --modes nccl,nccl-1ch --protocols all \
             --collective all --numel 1,64Mi --late-s 2.5 --emulate --out "$dir/nccl-cells.jsonl" ;;
    modes) rm -f "$dir/nccl-modes.jsonl"
           stage modes 240 python3 -m waitbench nccl "${common[@]}" --late-s 2.5 \
             --modes nccl+host-barrier,nccl+dist-barrier,nccl+blocking-wait,nccl-zero-cta,cupy-nccl \
             --out "$dir/nccl-modes.jsonl" ;;
    calls) rm -f "$dir/nccl-calls.jsonl"
           stage calls 120 python3 -m waitbench nccl --backend nccl --nproc 2 --late-rank 0 --modes nccl \
             --calls all --late-s 1.5 --out "$dir/nccl-calls.jsonl" ;;
    *) echo "unknown stage $s"; rc=1 ;;
  esac
done
echo "nccl_reference: exit $rc"
exit $rc
