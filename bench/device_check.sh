#!/usr/bin/env bash
# The one-call GPU check: the CUDA tests, the pyramid benchmarks (bench/run.py), a
# torch.profiler summary with cold-start and host times (bench/cuda_profile.py) and the morph
# throughput (CUDA-graph replay and eager), plenoptic-modes, generate and kernel-compile
# benchmarks, all written under bench/results/ and,
# when $OUT is set (the device tool), copied there after each step. Each step has a time
# limit, so one that hangs leaves the others their time. Needs a CUDA GPU with torch and triton, and plenoptic for the
# comparisons; on a machine without a package index, bring its wheels (plenoptic 2.1.1,
# pyrtools 1.1.1, pooch, platformdirs, importlib-resources), install them with
# `pip install --no-index --no-deps --target DIR *.whl` and put DIR on PYTHONPATH.
# Usage: bench/device_check.sh (about 4 minutes on an H100, Triton compilation included)
set -uo pipefail
cd "$(dirname "$0")/.."
results=bench/results
mkdir -p "$results"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
stamp=$(mktemp)
status=0
parallel=()
python -c "import xdist" 2>/dev/null && parallel=(-n 8)  # Triton compiles in parallel

step() {
  local name=$1 limit=$2
  shift 2
  echo "== $name ($(date +%T), limit ${limit}s)"
  timeout "$limit" "$@" || { echo "!! $name failed or timed out"; status=1; }
  if [ -n "${OUT:-}" ]; then
    find "$results" -type f -newer "$stamp" -not -path "*/raw/*" -exec cp {} "$OUT"/ \;
  fi
}

python -c "import torch, triton; print(torch.__version__, triton.__version__, torch.cuda.get_device_name())"
# -v names every result as it comes; a per-test limit keeps one stuck test from using the step
timeout_flag=()
python -c "import pytest_timeout" 2>/dev/null && timeout_flag=(--timeout=90)
step "CUDA tests" 240 bash -c "python -m pytest -v -rfE -p no:cacheprovider -W ignore \
  ${parallel[*]} ${timeout_flag[*]} tests/test_cuda.py tests/test_triton_structure.py \
  tests/test_backends.py tests/test_phase_ops.py tests/test_undecimated.py > $results/cuda-tests.txt 2>&1; \
  status=\$?; tail -25 $results/cuda-tests.txt; exit \$status"
step "pyramid bench" 160 python bench/run.py
step "profile" 80 python bench/cuda_profile.py
step "morph bench" 150 python bench/morph_throughput.py
step "plenoptic modes bench" 60 python bench/plenoptic_modes.py
step "generate bench" 90 python bench/generate_throughput.py
step "compile bench" 60 python bench/compile_time.py
echo "== done ($(date +%T))"
exit $status
