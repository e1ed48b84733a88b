#!/usr/bin/env bash
# One device call: build, GPU tests, benchmarks, independent cross-checks. Full logs go to $OUT;
# a short summary prints last. Usage: bash benchmarks/device_check.sh STAGE...  (stages below)
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/wbout}; LOGS=$(mktemp -d); mkdir -p "$OUT"
log() { echo "== $* ($(date +%T))"; }
summary=()
run() {  # run NAME CMD...: tee to $OUT/NAME.log, remember pass/fail
  local name=$1; shift
  log "$name"
  local t0=$SECONDS
  "$@" > >(tee "$LOGS/$name.log") 2>&1; local rc=$?
  summary+=("$name rc=$rc $((SECONDS - t0))s")
}
gpu_label() {  # results folder name: h200, or h200x2 with two GPUs
  local name n
  name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr 'A-Z' 'a-z' | sed 's/^nvidia //; s/ .*//')
  n=$(nvidia-smi -L | wc -l)
  name=${name:-gpu}
  if [ "$n" -gt 1 ]; then echo "${name}x$n"; else echo "$name"; fi
}
# Wheels carried in .whl/ (the device has no registry) shadow what the image has, for this call only.
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
for stage in "$@"; do
  case $stage in
    info) run info bash -c 'nvidia-smi; nvidia-smi -q -d CLOCK,POWER | head -60; python3 -c "import torch;print(torch.__version__, torch.cuda.nccl.version())"' ;;
    build) run build python3 -m pip install --no-build-isolation --no-deps . ;;
    kinfo) run kinfo python3 -c "from waitbench._native import native as n; m=n(); [print(r, m.spin_kernel_info(0, r)) for r in m.REGISTER_VARIANTS]; import os; print({k: v for k, v in os.environ.items() if k.startswith(('CUDA', 'NCCL', 'NVIDIA'))})" ;;
    test-core) run test-core python3 -m pytest -m gpu -q -rs --timeout 300 tests/test_waiter.py tests/test_wake.py tests/test_workloads.py tests/test_runner.py tests/test_native.py ;;
    test-gpu) run test-gpu python3 -m pytest -m "gpu" -q -rs --timeout 300 tests ;;
    test-all) run test-all python3 -m pytest -q -rs --timeout 300 tests ;;
    wake) run wake python3 benchmarks/wake_latency.py --trials 10000 --out "$OUT/wake_latency.json" ;;
    floor) run floor python3 benchmarks/wake_floor_compare.py --out "$OUT" --rounds 5 --trials 10000 ;;
    wake-session) run wake-session python3 benchmarks/wake_session.py "$OUT/wake_session.json" ;;
    ceilings) run ceilings python3 benchmarks/ceilings.py --out "$OUT/ceilings.json" ;;
    record) run record python3 benchmarks/record_telemetry.py "$OUT/telemetry.jsonl" ;;
    overhead) run overhead python3 benchmarks/sampler_overhead.py "$OUT/sampler_overhead.json" ;;
    power) run power python3 benchmarks/power_states.py "$OUT/power_states.json" ;;
    run) run suite bash -c "time waitbench run --out $OUT/run.jsonl" ;;
    sweep) run sweep bash -c "time waitbench sweep --out $OUT/sweep.jsonl" ;;
    run-ref) run suite bash -c "time waitbench run --trials 10000 --presets simple-2ch,simple-16ch,ll-16ch,tiny --flags host,device --out $OUT/run.jsonl" ;;
    sweep-ref) run sweep bash -c "time waitbench sweep --flags host,device --out $OUT/sweep.jsonl" ;;
    sweep-lines) run sweep-lines bash -c "waitbench sweep --blocks 16,64,132 --threads 32 --flag-lines shared,per-poller --flags host --out $OUT/sweep-lines.jsonl" ;;
    test-custom) run test-custom python3 -m pytest -m gpu -q -rs --timeout 300 tests/custom ;;
    ncu) run ncu ncu --clock-control none --section LaunchStats --section Occupancy -k regex:"gemm|nvjet|cutlass|xmma" --launch-count 1 python3 -c "import torch; a=torch.randn(8192,8192,device='cuda',dtype=torch.bfloat16); b=torch.randn_like(a); [torch.matmul(a,b) for _ in range(2)]; torch.cuda.synchronize()" ;;
    mech) run mech bash -c "python3 benchmarks/residency.py --threads 1024 --registers 64; python3 benchmarks/residency.py --threads 32 --registers 32 --smem-bytes 232432; waitbench sweep --blocks 16,64,132 --threads 32,1024 --flags host,device --polls volatile,acquire --workloads fma,stream --out $OUT/mech.jsonl" ;;
    examples) run examples bash -c "python3 benchmarks/examples/run_examples.py $OUT/examples.jsonl && waitbench report $OUT/examples.jsonl --format markdown" ;;
    pollers) run pollers python3 benchmarks/pollers.py --out "$OUT/pollers.json" ;;
    examples-twice) run examples bash -c "python3 benchmarks/examples/run_examples.py $OUT/examples.jsonl && python3 benchmarks/examples/run_examples.py $OUT/examples-rerun.jsonl && waitbench compare $OUT/examples.jsonl $OUT/examples-rerun.jsonl --format markdown" ;;
    barrier) lbl=$(gpu_label); run barrier timeout 400 python3 benchmarks/barrier_latency.py "$OUT/$lbl" --gpu --machine "$lbl" ;;
    barrier-cpu) lbl="cpu-$(nproc)core"; run barrier-cpu timeout 400 python3 benchmarks/barrier_latency.py "$OUT/$lbl" --ranks 2,4,8,16 --machine "$lbl" ;;
    barrier-stress) run barrier-stress timeout 300 python3 benchmarks/barrier_stress.py --ranks 8 --rounds 100000 ;;
    test-barrier) run test-barrier python3 -m pytest -q -rs --timeout 300 tests/test_barrier.py tests/barrierbench tests/benchmarks/test_barrier_latency.py ;;
    *) echo "unknown stage $stage"; exit 2 ;;
  esac
done
tar czf "$OUT/logs.tgz" -C "$LOGS" .  # the device returns at most 8 files
echo; echo "== summary"; printf '%s\n' "${summary[@]}"
