#!/bin/bash
# The C ABI fuzz test on a GPU machine: builds build/fmla_abi_fuzz with cc against the library that
# is already there (npm run build:native, or make -C test/native), runs it, then runs fewer
# iterations under compute-sanitizer memcheck (each launch is slow there). Logs go to $OUT (or
# /tmp).
# Usage (from anywhere): bash test/native/run_abi_fuzz.sh [seed] [iterations] [memcheck iterations]
set -o pipefail
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-/tmp}
SEED=${1:-1}
ITERATIONS=${2:-3000}
MEMCHECK_ITERATIONS=${3:-300}
SANITIZER=${SANITIZER:-$(command -v compute-sanitizer ||
  echo /usr/local/cuda/bin/compute-sanitizer)}
mkdir -p "$OUT"

if [ ! -f build/libflashmla.so ]; then
  echo "build/libflashmla.so is missing: build it first (npm run build:native)" >&2
  exit 1
fi
if ! cc -std=c99 -O1 -Wall -Wextra -I csrc/include -I csrc/reference test/native/abi_fuzz.c \
  -o build/fmla_abi_fuzz -L build -lflashmla -Wl,-rpath,"$PWD/build" \
  > "$OUT/abi_fuzz_build.log" 2>&1; then
  cat "$OUT/abi_fuzz_build.log"
  exit 1
fi

status=0
t0=$(date +%s)
timeout 240 build/fmla_abi_fuzz "$SEED" "$ITERATIONS" > "$OUT/abi_fuzz.log" 2>&1
rc=$?
echo "== abi_fuzz rc=$rc ($(( $(date +%s) - t0 )) s), log: $OUT/abi_fuzz.log"
grep -E '^(device|FAIL|known gap|note|summary)' "$OUT/abi_fuzz.log" | cut -c1-400 | head -40
[ $rc -eq 0 ] || status=1

# Many calls here make the CUDA runtime fail on purpose (a huge cudaMalloc, events never recorded, a
# capture never begun): those API errors are expected, only memory errors count.
t0=$(date +%s)
timeout 330 "$SANITIZER" --tool memcheck --report-api-errors no --error-exitcode 9 \
  build/fmla_abi_fuzz "$SEED" "$MEMCHECK_ITERATIONS" > "$OUT/abi_fuzz_memcheck.log" 2>&1
rc=$?
echo "== abi_fuzz memcheck rc=$rc ($(( $(date +%s) - t0 )) s), log: $OUT/abi_fuzz_memcheck.log"
grep -E '^(FAIL|summary)|ERROR SUMMARY|Invalid|Program hit' "$OUT/abi_fuzz_memcheck.log" |
  cut -c1-400 | head -40
[ $rc -eq 0 ] || status=1
exit $status
