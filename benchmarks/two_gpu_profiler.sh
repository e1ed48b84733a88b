#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 27 in one command, on a machine with 2 or more GPUs: live wait accounting with known delays.
#   bash benchmarks/two_gpu_profiler.sh OUT [PACK]     (on the device: OUT=/tmp/wb PACK=$OUT)
# Builds waitbench, then writes under OUT/benchmarks/results/<gpu>-x<N>/:
#   profiler_delays.{json,jsonl}, exporter-<proto>.txt   benchmarks/profiler_delays.py: the delay grid under the
#                                   plugin, checks with PASS/MISS per cell, the exporter scraped over HTTP meanwhile
#   profiler_overhead.json          benchmarks/profiler_overhead.py: 8 B latency, 256 MiB bus bandwidth, +/- plugin
#   tp_worker-{none,host-barrier}.jsonl   the seed program under the plugin, without and with the fix (recordings)
# prints the generated tables (benchmarks/readme_twogpu.py), and packs the folder as PACK/<gpu>-x<N>-profiler.tgz
# (the device returns at most 8 files, 2 folders down): `tar xzf` it in the checkout, then run
# benchmarks/make_readme_tables.py to fill the docs. Estimate, after the build (1-3 min; SKIP_BUILD=1 skips it on a
# machine that has it): the delay grid at most 263 s on 2 GPUs (profiler_delays.py's own estimate, on the slow
# side: 3 jobs x 18 cells, 50/50/10/5 instances for 1/10/100/1000 ms; 20 per cell at most on 4 or 8 GPUs, 256 s
# and 314 s), the overhead benchmark about 75 s, the seed program twice about 50 s: about 6.5 min. Each step has
# a timeout, so a step that overruns still leaves the others' files.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bash benchmarks/two_gpu_profiler.sh OUT [PACK]}
pack_dir=${2:-$out}
source benchmarks/two_gpu_lib.sh
need_gpus 2 || exit 2
dir=$out/benchmarks/results/$(gpu_label)
LOGS=$dir/logs
mkdir -p "$LOGS"
n=$(nvidia-smi -L | grep -c '^GPU ')
build
reps=50
[ "$n" -gt 2 ] && reps=20
step delays timeout 330 python3 benchmarks/profiler_delays.py "$dir" --max-reps "$reps" --max-s 320
step overhead timeout 150 python3 benchmarks/profiler_overhead.py "$dir/profiler_overhead.json" --ranks "$n" \
  --rounds 3 --iters 200
for fix in none host-barrier; do  # the root (rank 1) asleep between requests; the others idle in the broadcast
  job=tp-$fix-$$
  rm -f "$dir/tp_worker-$fix.jsonl"
  step "tp-$fix" bash -c "env \$(python3 -m waitbench profiler env --job $job) timeout 60 \
    python3 benchmarks/examples/tp_worker.py --fix $fix --request-every 4 --duration 16 &&
    python3 -m waitbench profiler collect --job $job --out '$dir/tp_worker-$fix.jsonl' &&
    python3 -m waitbench profiler report '$dir/tp_worker-$fix.jsonl'"
  rm -f /dev/shm/waitbench-prof-"$job"-*.ring
done
step tables python3 benchmarks/readme_twogpu.py profiler "$dir"
pack "$out" "$(gpu_label)" profiler "$pack_dir" || rc=1
printf '%s\n' "${summary[@]}"
exit $rc
