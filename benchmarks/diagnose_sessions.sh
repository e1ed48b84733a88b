#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# diagnose pointed at a real 2-rank NCCL job, as a user would, on a machine with 2 GPUs (after
# `pip install --no-build-isolation --no-deps .`). The job is the seed report as a program
# (benchmarks/examples/tp_worker.py): rank 0 on GPU 0 waits in broadcast_object_list for rank 1 (GPU 1),
# which receives the requests and is late. Sessions, each recorded for `diagnose --replay`:
#   warm-idle   both GPUs held by a process doing nothing: the warm-idle power baseline
#   asleep      rank 1 asleep on the host between requests (an idle server)
#   gemm        rank 1 busy computing GEMMs between requests
#   fix         the host-barrier fix (multiprocessing.Barrier before the broadcast), rank 1 asleep
# For each job session: diagnose as is, then with --ignore-gpm --probe (what a GPU without GPM gets);
# for 'asleep' also --serve, scraped while the job waits.
# Usage: bash benchmarks/diagnose_sessions.sh [DIR]   (DIR: benchmarks/results/h200-x2/diagnose; diagnose-*.jsonl)
# Expected duration: about 3 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/wbout}
dir=${1:-benchmarks/results/h200-x2/diagnose}
mkdir -p "$OUT" "$dir"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 PYTHONUNBUFFERED=1
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$OUT/cache}  # baselines measured here stay with this run
rc=0
job=""

stop_job() {
  if [ -n "$job" ]; then pkill -TERM -P "$job" 2>/dev/null; kill -TERM "$job" 2>/dev/null; wait "$job" 2>/dev/null; fi
  job=""
}
trap stop_job EXIT

start_job() {  # start_job NAME ARGS...: the worker loop in the background, back once both ranks are ready
  local name=$1
  shift
  python3 benchmarks/examples/tp_worker.py "$@" --request-every 600 --duration 120 >"$OUT/tp-$name.log" 2>&1 &
  job=$!
  for _ in $(seq 120); do
    [ "$(grep -c '"event": "ready"' "$OUT/tp-$name.log")" -ge 2 ] && { sleep 2; grep ready "$OUT/tp-$name.log"; return 0; }
    sleep 0.5
  done
  echo "the $name job did not get ready:"; tail -5 "$OUT/tp-$name.log"; rc=1; return 1
}

diag() {  # diag FILE ARGS...: one diagnose session, recorded (replaced), its exit status remembered
  local file=$1
  shift
  rm -f "$dir/$file"
  echo "== waitbench diagnose $* ($(date +%T))"
  timeout 120 python3 -m waitbench diagnose --seconds 3 --record "$dir/$file" "$@" || rc=1
}

echo "== warm idle: a process holds both GPUs and does nothing"
python3 -c "import time, torch; [torch.zeros(1, device=i) for i in range(torch.cuda.device_count())]; time.sleep(14)" &
job=$!
sleep 6
diag diagnose-warm-idle.jsonl --probe  # measures and caches each GPU's warm-idle baseline
stop_job

for session in asleep gemm fix; do
  case $session in
    asleep) flags=(--late asleep) ;;
    gemm) flags=(--late gemm) ;;
    fix) flags=(--late asleep --fix host-barrier) ;;
  esac
  echo "== job: $session"
  start_job "$session" "${flags[@]}" || { stop_job; continue; }
  diag "diagnose-$session.jsonl"
  diag "diagnose-$session-nogpm.jsonl" --ignore-gpm --probe
  if [ "$session" = asleep ]; then
    echo "== --serve while the job waits"
    timeout 40 python3 -m waitbench diagnose --serve 127.0.0.1:9464 --seconds 2 >"$OUT/serve.log" 2>&1 &
    serve=$!
    sleep 12
    python3 - <<'EOF' | tee "$dir/serve-scrape.txt" || rc=1
import sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:9464/metrics", timeout=10).read().decode()
lines = [l for l in text.splitlines() if l.startswith("waitbench_busy_waiting")]
print("\n".join(lines))
sys.exit(0 if any(l.startswith("waitbench_busy_waiting{") and 'gpu="0"' in l and float(l.split()[-1]) == 1.0
                  for l in lines) else 1)
EOF
    kill -INT "$serve" 2>/dev/null; wait "$serve" 2>/dev/null
  fi
  stop_job
done
echo "diagnose_sessions: exit $rc"
exit $rc
