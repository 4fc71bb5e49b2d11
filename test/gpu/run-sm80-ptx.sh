#!/usr/bin/env bash
# The GPU tests against the library that carries only compute_80 PTX: on an sm_90 GPU the driver
# compiles that PTX at load time, so the generic sm_80 path is what runs. Needs dist/ (npm run build)
# and that library:
#   FMLA_CUDA_ARCHS=80ptx FMLA_BUILD_DIR=build/sm80-ptx node scripts/build-native.mjs
# Usage: test/gpu/run-sm80-ptx.sh [node --test options]
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
library=$root/build/sm80-ptx/libflashmla.so
if [ ! -f "$library" ]; then
  echo "run-sm80-ptx: $library not found; build it with" >&2
  echo "  FMLA_CUDA_ARCHS=80ptx FMLA_BUILD_DIR=build/sm80-ptx node scripts/build-native.mjs" >&2
  exit 1
fi
[ -d "$root/dist/test/gpu" ] || { echo "run-sm80-ptx: dist/test/gpu not found; run npm run build" >&2; exit 1; }
# c-example.test.js builds examples/c against build/libflashmla.so, not this library, and the MLA
# decode over FP8 caches has only the sm_90a kernel (this library refuses it: FMLA_ERROR_UNSUPPORTED):
# both left out.
tests=()
for f in "$root"/dist/test/gpu/*.test.js; do
  case "$(basename "$f")" in
    c-example.test.js | mla-decode-fp8.test.js) ;;
    *) tests+=("$f") ;;
  esac
done
echo "run-sm80-ptx: testing $library"
cd "$root" && FLASH_MLA_LIBRARY=$library node --test "$@" "${tests[@]}"
status=$?
echo "run-sm80-ptx: tested $library (exit $status)"
exit $status
