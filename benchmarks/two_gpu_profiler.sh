#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 27 in one command, on a machine with 2 or more GPUs: live wait accounting with known delays.
#   bash benchmarks/two_gpu_profiler.sh OUT
# Builds waitbench, then writes under OUT/benchmarks/results/<gpu>-x<N>/:
#   profiler_delays.{json,jsonl}, exporter-<proto>.txt   benchmarks/profiler_delays.py: the delay grid under the
#                                   plugin, checks with PASS/MISS per cell, the exporter scraped over HTTP meanwhile
#   profiler_overhead.json          benchmarks/profiler_overhead.py: 8 B latency, 256 MiB bus bandwidth, +/- plugin
#   tp_worker-{none,host-barrier}.jsonl   the seed program under the plugin, without and with the fix (recordings)
# and prints the generated tables last (benchmarks/readme_twogpu.py). Copy the folder into the checkout and run
# benchmarks/make_readme_tables.py to fill the docs. Estimate: build 2-4 min; delays about 3.7 min (222 s:
# 18 cells per protocol, 5 to 100 instances each, 3 fresh jobs); overhead about 1.5 min; tp_worker about 1 min.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bash benchmarks/two_gpu_profiler.sh OUT}
source benchmarks/two_gpu_lib.sh
need_gpus 2 || exit 2
dir=$out/benchmarks/results/$(gpu_label)
LOGS=$dir/logs
mkdir -p "$LOGS"
n=$(nvidia-smi -L | grep -c '^GPU ')
build
step delays timeout 480 python3 benchmarks/profiler_delays.py "$dir"
step overhead timeout 240 python3 benchmarks/profiler_overhead.py "$dir/profiler_overhead.json" --ranks "$n" \
  --rounds 3 --iters 300
for fix in none host-barrier; do  # the root (rank 1) asleep between requests; the others idle in the broadcast
  job=tp-$fix-$$
  rm -f "$dir/tp_worker-$fix.jsonl"
  step "tp-$fix" bash -c "env \$(python3 -m waitbench profiler env --job $job) timeout 120 \
    python3 benchmarks/examples/tp_worker.py --fix $fix --request-every 4 --duration 20 &&
    python3 -m waitbench profiler collect --job $job --out '$dir/tp_worker-$fix.jsonl' &&
    python3 -m waitbench profiler report '$dir/tp_worker-$fix.jsonl'"
  rm -f /dev/shm/waitbench-prof-"$job"-*.ring
done
step tables python3 benchmarks/readme_twogpu.py profiler "$dir"
printf '%s\n' "${summary[@]}"
exit $rc
