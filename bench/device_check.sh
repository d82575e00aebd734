#!/usr/bin/env bash
# The one-call GPU check: the CUDA tests, the pyramid benchmarks (bench/run.py), the morph
# throughput benchmark and a torch.profiler summary (bench/cuda_profile.py), all written under
# bench/results/ and, when $OUT is set (the device tool), copied there too.
# Needs a CUDA GPU with torch and triton; plenoptic for the comparisons (see bench/README.md).
# Usage: bench/device_check.sh
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
  local name=$1
  shift
  echo "== $name ($(date +%T))"
  "$@" || { echo "!! $name failed"; status=1; }
}

python -c "import torch, triton; print(torch.__version__, triton.__version__, torch.cuda.get_device_name())"
step "CUDA tests" bash -c "python -m pytest -q -p no:cacheprovider ${parallel[*]} tests/test_cuda.py \
  tests/test_triton_structure.py tests/test_backends.py tests/test_phase_ops.py 2>&1 \
  | tee $results/cuda-tests.txt"
step "profile" python bench/cuda_profile.py "$results/cuda-profile.txt"
step "pyramid bench" python bench/run.py
step "morph bench" python bench/morph_throughput.py
echo "== done ($(date +%T))"
if [ -n "${OUT:-}" ]; then
  find "$results" -type f -newer "$stamp" -not -path "*/raw/*" -exec cp {} "$OUT"/ \;
fi
exit $status
