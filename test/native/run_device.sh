#!/bin/bash
# One device session: build, correctness, benchmarks, sanitizers. Logs go to $OUT (or build/logs).
# Usage (from the repository root): bash test/native/run_device.sh [check|bench|sanitize ...]
set -o pipefail
OUT=${OUT:-build/logs}
mkdir -p "$OUT"
STEPS=${*:-check bench sanitize}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,memory.total --format=csv | tee "$OUT/gpu.txt"
start=$(date +%s)
if ! make -C test/native -j"$(nproc)" ARCHS="${ARCHS:-90a}" > "$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"; exit 1
fi
echo "build: $(( $(date +%s) - start )) s; SASS: $(cuobjdump -sass build/libflashmla.so 2>/dev/null | grep -c HGMMA) HGMMA, $(cuobjdump -sass build/libflashmla.so 2>/dev/null | grep -c 'HMMA') HMMA"
for step in $STEPS; do
  t0=$(date +%s)
  case $step in
    check|quick)
      timeout 200 build/fmla_native_test "$step" > "$OUT/check.log" 2>&1; rc=$?
      echo "== $step rc=$rc ($(( $(date +%s) - t0 )) s): $(grep -c '^PASS' "$OUT/check.log") PASS, $(grep -c '^FAIL' "$OUT/check.log") FAIL"
      grep -E '^FAIL|error|Error' "$OUT/check.log" | head -30
      tail -3 "$OUT/check.log" ;;
    fp8)
      timeout 200 build/fmla_native_test fp8 > "$OUT/fp8.log" 2>&1; rc=$?
      echo "== fp8 rc=$rc ($(( $(date +%s) - t0 )) s): $(grep -c '^PASS' "$OUT/fp8.log") PASS, $(grep -c '^FAIL' "$OUT/fp8.log") FAIL"
      grep -E '^FAIL|error|Error' "$OUT/fp8.log" | head -30 ;;
    bench-fp8)
      timeout 240 build/fmla_native_test bench-fp8 > "$OUT/bench-fp8.log" 2>&1
      echo "== bench-fp8 rc=$? ($(( $(date +%s) - t0 )) s)"; grep -vE '^PASS' "$OUT/bench-fp8.log" | tail -30 ;;
    profile-fp8)
      timeout 150 ncu --clock-control none -k regex:"mla_decode_(fp8_)?sm90" --metrics \
regex:smsp__average_warps_issue_stalled_.*_per_issue_active.ratio,gpu__time_duration.sum,smsp__inst_executed.sum,\
sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_alu.sum,\
sm__inst_executed_pipe_fma.sum,sm__inst_executed_pipe_fp16.sum,sm__inst_executed_pipe_xu.sum,sm__inst_executed_pipe_lsu.sum \
        build/fmla_native_test profile-fp8 > "$OUT/ncu-fp8.log" 2>&1
      echo "== profile-fp8 rc=$? ($(( $(date +%s) - t0 )) s)"
      grep -E "mla_decode_(fp8_)?sm90_kernel|duration|inst_executed|pipe|stalled_(barrier|long|short|wait|math|mio|lg|membar|no_inst|dispatch)" "$OUT/ncu-fp8.log" | sed -E 's/void fmla::mla_sm90::mla_decode_sm90_kernel<([^>]*)>.*/kernel<\1>/' | cut -c1-150 ;;
    pages)
      timeout 250 build/fmla_native_test bench-pages > "$OUT/pages.log" 2>&1
      echo "== pages rc=$? ($(( $(date +%s) - t0 )) s)"; grep -vE '^PASS' "$OUT/pages.log" | tail -40 ;;
    gqa)
      timeout 200 build/fmla_native_test bench-gqa > "$OUT/gqa.log" 2>&1
      echo "== gqa rc=$? ($(( $(date +%s) - t0 )) s)"; grep -vE '^PASS' "$OUT/gqa.log" | tail -70 ;;
    sass)
      cuobjdump -sass build/libflashmla.so > "$OUT/sass.txt" 2>&1
      awk '/Function :/{f=$3} /HGMMA/{h[f]++} /LDL|STL/{l[f]++} END{for (k in h) print h[k], "HGMMA", l[k]+0, "LDL/STL", k}' \
        "$OUT/sass.txt" | sort -k5 | cut -c1-160 ;;
    experiment)
      timeout 120 build/fmla_native_test experiment > "$OUT/experiment.log" 2>&1
      echo "== experiment rc=$? ($(( $(date +%s) - t0 )) s)"; tail -8 "$OUT/experiment.log" ;;
    bench)
      timeout 240 build/fmla_native_test bench > "$OUT/bench.log" 2>&1; rc=$?
      echo "== bench rc=$rc ($(( $(date +%s) - t0 )) s)"
      grep -vE '^PASS' "$OUT/bench.log" | tail -60 ;;
    profile)
      timeout 120 ncu --metrics gpu__time_duration.sum build/fmla_native_test profile > "$OUT/ncu.log" 2>&1
      echo "== profile rc=$? ($(( $(date +%s) - t0 )) s)"
      grep -E "^  [a-z].*fmla::|gpu__time_duration|profiled" "$OUT/ncu.log" | sed -E 's/\(fmla::[A-Za-z]+\)//; s/void fmla::([a-z_]+)<[^ ]*/\1/' | cut -c1-110 ;;
    deep)
      timeout 150 ncu --clock-control none -k regex:${KERNEL:-decode} -c 4 --section SpeedOfLight --section WarpStateStats \
        --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis build/fmla_native_test ${PROFILE_MODE:-profile1} > "$OUT/ncu_deep.log" 2>&1
      echo "== deep rc=$? ($(( $(date +%s) - t0 )) s)"
      grep -E "Duration|Throughput|Warp Cycles|Stall|stalled|Hit Rate|Busy|Issued|Executed Ipc|Registers" "$OUT/ncu_deep.log" | cut -c1-200 | head -80 ;;
    sanitize)
      timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 build/fmla_native_test small > "$OUT/memcheck.log" 2>&1
      echo "== memcheck rc=$? ($(( $(date +%s) - t0 )) s)"; grep -E 'ERROR SUMMARY|FAIL|Invalid' "$OUT/memcheck.log" | head -10
      t0=$(date +%s)
      timeout 150 compute-sanitizer --tool racecheck --error-exitcode 9 build/fmla_native_test small > "$OUT/racecheck.log" 2>&1
      echo "== racecheck rc=$? ($(( $(date +%s) - t0 )) s)"; grep -E 'RACECHECK SUMMARY|ERROR SUMMARY|FAIL|hazard' "$OUT/racecheck.log" | head -10 ;;
  esac
done
