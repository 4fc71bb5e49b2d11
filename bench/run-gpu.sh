#!/usr/bin/env bash
# On a GPU machine: build the native library, run the GPU tests, then the benchmark suites.
# Usage: bench/run-gpu.sh <out-dir> [commit] [suites...]   (default: mla gqa writekv overhead)
# Writes gpu-tests.log, python.log, sanitizer.log, bench.log and one JSON per suite (8 files).
# SANITIZE=0 skips the sanitizer runs.
# Expects node and nvcc on PATH (on the lent GPU machine: source .devbundle/env.sh first) and dist/
# built by `npm run build`.
set -uo pipefail
out=${1:?usage: bench/run-gpu.sh <out-dir> [commit] [suites...]}
commit=${2:-unknown}
shift $(( $# >= 2 ? 2 : $# ))
suites=("$@")
[ $# -eq 0 ] && suites=(mla gqa writekv overhead)
mkdir -p "$out"
node scripts/build-native.mjs 2>&1 | tail -2 || exit 1
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu --format=csv,noheader
node --test dist/test/gpu/ dist/test/backend/cuda/ > "$out/gpu-tests.log" 2>&1
grep -E "^not ok|^# (pass|fail|skipped)" "$out/gpu-tests.log"
# The Python binding, installed offline into a scratch folder, and its tests.
if python3 -c 'import torch' 2>/dev/null; then
  rm -rf /tmp/fmla-py
  pip install -q --no-build-isolation --no-deps --target /tmp/fmla-py ./python > "$out/python.log" 2>&1 &&
    (cd python/tests && PYTHONPATH=/tmp/fmla-py python3 -m unittest -v test_flash_mla_ts) >> "$out/python.log" 2>&1
  tail -n 3 "$out/python.log"
fi
# Sanitizers on the native harness's small cases (memcheck, racecheck): summaries only.
if [ "${SANITIZE:-1}" = 1 ]; then
  OUT=/tmp/fmla-sanitize bash test/native/run_device.sh sanitize > "$out/sanitizer.log" 2>&1
  grep -E "^== |SUMMARY" "$out/sanitizer.log"
fi
for s in "${suites[@]}"; do
  node dist/src/cli/main.js bench "$s" --out "$out" --commit "$commit" > "$out/bench-last.log" 2>&1
  cat "$out/bench-last.log" >> "$out/bench.log"
  grep -v '^\[' "$out/bench-last.log" | tail -n 30
done
rm -f "$out/bench-last.log"
