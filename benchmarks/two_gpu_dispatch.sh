#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 28 in one command, on a machine with 2 or more GPUs: the dispatch benchmark's NCCL modes beside the
# host-side modes and the floor, in one run of 2 ranks (one GPU each).
#   bash benchmarks/two_gpu_dispatch.sh OUT [PACK]     (on the device: OUT=/tmp/wb PACK=$OUT)
# Builds waitbench, then writes OUT/benchmarks/results/<gpu>-x<N>/dispatch.jsonl ('dispatch' records: latency
# p50/p99/p99.9 per rank and last rank, idle NVML utilization, SM activity, power over warm idle, host CPU per
# rank, the highest sustained rate), prints the generated table (benchmarks/readme_twogpu.py) and packs the folder
# as PACK/<gpu>-x<N>-dispatch.tgz (`tar xzf` it in the checkout, then run benchmarks/make_readme_tables.py).
# Estimate: build 2-4 min; 14 modes x about 20 s (2000 requests at 200/s, 5 s idle window, closed loop, spawn)
# = about 5 min.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bash benchmarks/two_gpu_dispatch.sh OUT [PACK]}
pack_dir=${2:-$out}
source benchmarks/two_gpu_lib.sh
need_gpus 2 || exit 2
lbl=$(gpu_label)
dir=$out/benchmarks/results/$lbl
LOGS=$dir/logs
mkdir -p "$LOGS"
build
rm -f "$dir/dispatch.jsonl"
step dispatch timeout 420 python3 -m waitbench dispatch --ranks 2 --modes all --requests 2000 --rate 200 \
  --idle-s 5 --machine "$lbl" --out "$dir/dispatch.jsonl"
step tables python3 benchmarks/readme_twogpu.py dispatch "$dir"
pack "$out" "$(gpu_label)" dispatch "$pack_dir" || rc=1
printf '%s\n' "${summary[@]}"
exit $rc
