# SPDX-License-Identifier: Apache-2.0
# Shared by benchmarks/two_gpu_*.sh (sourced): the GPU count check, the results folder's name, the build,
# and steps that log to $LOGS and remember their exit status. NVLink multicast stays off, in children too.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 PYTHONUNBUFFERED=1
summary=()
rc=0

need_gpus() {  # need_gpus N: one line and false with fewer than N GPUs
  local n
  n=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
  if [ "$n" -lt "$1" ]; then
    echo "$(basename "$0"): needs $1 or more GPUs, found $n (nvidia-smi -L); run it on a machine with $1 GPUs" >&2
    return 1
  fi
}

gpu_label() {  # the results folder's name: h200-x2 for two H200s
  local name n
  name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr 'A-Z' 'a-z' | sed 's/^nvidia //; s/ .*//')
  n=$(nvidia-smi -L | grep -c '^GPU ')
  echo "${name:-gpu}-x$n"
}

step() {  # step NAME CMD...: the command's output to the terminal and $LOGS/NAME.log, its status remembered
  local name=$1 t0=$SECONDS code
  shift
  echo "== $name ($(date +%T))"
  "$@" > >(tee "$LOGS/$name.log") 2>&1
  code=$?
  [ "$code" -eq 0 ] || rc=1
  summary+=("$name rc=$code $((SECONDS - t0))s")
}

build() {  # the package with its plugin, for this GPU's architecture only (a shorter build); SKIP_BUILD=1 skips
  [ "${SKIP_BUILD:-0}" = 1 ] && return 0
  if compgen -G ".whl/*.whl" >/dev/null; then  # wheels carried in .whl/ (no registry on the device)
    python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .whl/*.whl &&
      export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  fi
  local cc
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '.')
  step build env WAITBENCH_CUDA_ARCHITECTURES="${cc}-real" python3 -m pip install -q --no-build-isolation --no-deps .
}

pack() {  # pack OUT LABEL NAME PACK: OUT/benchmarks/results/LABEL as one archive PACK/LABEL-NAME.tgz
  # (the device returns at most 8 files, 2 folders down: extract it in the checkout, tar xzf FILE -C CHECKOUT)
  mkdir -p "$4" && tar czf "$4/$2-$3.tgz" -C "$1" "benchmarks/results/$2" && echo "packed $4/$2-$3.tgz"
}
