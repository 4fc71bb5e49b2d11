#!/usr/bin/env bash
# Runs FlashMLA's own dense decoding test against flash_mla_ts.
#
#   python/tests/run_flashmla_dense_test.sh [--time-our-kernel] PATH/TO/FlashMLA/tests/test_flash_mla_dense_decoding.py [ARGS...]
#
# The file is copied to a temporary directory, where only its import of flash_mla is swapped for
# flash_mla_ts (sed), and run there with the rest of ARGS (for example --dtype fp16). Its helper
# package kernelkit is imported from the file's own directory (kernelkit needs triton); this
# package from this source tree unless FLASH_MLA_TS_INSTALLED=1 (then the installed one). The
# library is found as flash_mla_ts finds it ($FLASH_MLA_LIBRARY, the installed package, or
# build/libflashmla.so). PYTHON selects the interpreter (default python3).
#
# The timing cases, which come after all the correctness cases, look up FlashMLA's decode kernel by
# name in a profile, which fails here (this library's kernels have other names).
# --time-our-kernel also swaps that name for this library's sm_90 decode kernel, so that they time
# it instead.
set -euo pipefail

usage() {
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

time_ours=0
if [[ "${1:-}" == "--time-our-kernel" ]]; then
  time_ours=1
  shift
fi
[[ $# -ge 1 && "$1" != -* ]] || usage
test_file=$1
shift
[[ -f "$test_file" ]] || { echo "run_flashmla_dense_test.sh: no file at $test_file" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
package_dir=$(dirname "$here")                       # python/, which holds flash_mla_ts/
tests_dir=$(cd "$(dirname "$test_file")" && pwd)     # FlashMLA's tests/, which holds kernelkit/
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
copy="$work/$(basename "$test_file")"
cp "$test_file" "$copy"

# Only the import line changes: `import flash_mla` (or `from flash_mla import ...`).
sed -i -E \
  -e 's/^([[:space:]]*)import flash_mla([[:space:]]*(#.*)?)$/\1import flash_mla_ts as flash_mla\2/' \
  -e 's/^([[:space:]]*)from flash_mla import /\1from flash_mla_ts import /' \
  "$copy"
if ! grep -qE '^[[:space:]]*(import flash_mla_ts as flash_mla|from flash_mla_ts import )' "$copy"; then
  echo "run_flashmla_dense_test.sh: found no 'import flash_mla' line to swap in $test_file" >&2
  exit 1
fi
if grep -nE '^[[:space:]]*(import|from)[[:space:]]+flash_mla([.[:space:]]|$)' "$copy" >&2; then
  echo "run_flashmla_dense_test.sh: the lines above still import FlashMLA itself" >&2
  exit 1
fi

if [[ $time_ours == 1 ]]; then
  sed -i 's/"flash_fwd_splitkv_mla_kernel"/"mla_decode_sm90_kernel"/' "$copy"
else
  echo "run_flashmla_dense_test.sh: the timing cases will fail on FlashMLA's kernel name;" \
    "pass --time-our-kernel to time this library's kernel instead" >&2
fi

path="$work:$tests_dir"
if [[ "${FLASH_MLA_TS_INSTALLED:-0}" != 1 ]]; then
  path="$package_dir:$path"
fi
cd "$work"
status=0
PYTHONPATH="$path${PYTHONPATH:+:$PYTHONPATH}" "${PYTHON:-python3}" "$copy" "$@" || status=$?
exit $status
