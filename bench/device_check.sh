#!/usr/bin/env bash
# The one-call GPU check: the CUDA tests, the pyramid benchmarks (bench/run.py), the morph
# throughput (CUDA-graph replay and eager) and efficiency (against the model alone), a
# torch.profiler summary with cold-start and host times (bench/cuda_profile.py), and the
# plenoptic-modes, generate and kernel-compile benchmarks, written under bench/results/. When
# $OUT is set (the device tool), every result file written so far is packed into
# $OUT/device-results.tar.gz after each step (the tool returns few files), with the log as
# $OUT/device-check.log.
#
# Each step has a time limit, and the whole check a deadline (DEVICE_CHECK_SECONDS, default
# 560: under the device tool's 10-minute call), so a step that hangs or overruns leaves the
# later ones their time or skips them with a message; the most important steps come first.
# Needs a CUDA GPU with torch and triton, and plenoptic for the comparisons; on a machine
# without a package index, bring its wheels (plenoptic 2.1.1, pyrtools 1.1.1, pooch,
# platformdirs, importlib-resources; pytest-timeout and pytest-xdist, execnet are used when
# present), install them with `pip install --no-index --no-deps --target DIR *.whl` and put
# DIR on PYTHONPATH.
# Usage: bench/device_check.sh (about 4 minutes on an H100, Triton compilation included).
# With the device tool, the wheels in the git-ignored .whl/ carried along:
#   mkdir -p /tmp/w && pip install -q --no-index --no-deps --target /tmp/w .whl/*.whl &&
#   PYTHONPATH=/tmp/w bench/device_check.sh        (carry [".whl"], timeout_s 590)
# then unpack device-results.tar.gz over the checkout and commit bench/results/.
set -uo pipefail
cd "$(dirname "$0")/.."
results=bench/results
mkdir -p "$results"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
stamp=$(mktemp)
deadline=$((SECONDS + ${DEVICE_CHECK_SECONDS:-560}))
status=0
parallel=()
python -c "import xdist" 2>/dev/null && parallel=(-n 8)  # Triton compiles in parallel

pack() {
  [ -n "${OUT:-}" ] || return 0
  find "$results" -type f -newer "$stamp" -not -path "*/raw/*" -print0 |
    tar -czf "$OUT/device-results.tar.gz" --null -T -
}

step() {
  local name=$1 limit=$2 left=$((deadline - SECONDS))
  shift 2
  if [ "$left" -lt 15 ]; then
    echo "!! $name skipped: the check's deadline is near"; status=1; return
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "== $name ($(date +%T), limit ${limit}s)"
  timeout "$limit" "$@" || { echo "!! $name failed or timed out"; status=1; }
  pack
}

main() {
  python -c "import torch, triton; print(torch.__version__, triton.__version__, torch.cuda.get_device_name())"
  # -v names every result as it comes; a per-test limit keeps one stuck test from using the step
  local timeout_flag=()
  python -c "import pytest_timeout" 2>/dev/null && timeout_flag=(--timeout=90)
  step "CUDA tests" 200 bash -c "python -m pytest -v -rfE -p no:cacheprovider -W ignore \
    ${parallel[*]} ${timeout_flag[*]} tests/cuda tests/ops/test_triton_structure.py \
    tests/ops/test_backends.py tests/ops/test_phase_ops.py tests/pyramid/test_undecimated.py \
    tests/pyramid/test_sub_octave.py \
    > $results/cuda-tests.txt 2>&1; \
    status=\$?; tail -25 $results/cuda-tests.txt; exit \$status"
  step "pyramid bench" 150 python bench/run.py
  step "morph bench" 130 python bench/morph_throughput.py
  step "morph efficiency bench" 60 python bench/morph_efficiency.py
  step "magnify bench" 60 python bench/magnify_throughput.py
  step "sub-octave bench" 40 python bench/sub_octave.py
  step "profile" 70 python bench/cuda_profile.py
  step "plenoptic modes bench" 50 python bench/plenoptic_modes.py
  step "generate bench" 60 python bench/generate_throughput.py
  step "compile bench" 30 python bench/compile_time.py
  echo "== done ($(date +%T)), status $status"
  return $status
}

if [ -n "${OUT:-}" ]; then
  main 2>&1 | tee "$OUT/device-check.log"
  exit "${PIPESTATUS[0]}"
fi
main
