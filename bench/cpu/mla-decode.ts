/**
 * CPU MLA decode throughput, on one core.
 *
 *     npx tsc -p . && node dist/bench/cpu/mla-decode.js
 *
 * Shape: b = 4, s_k = 4096, h_q = 16, s_q = 1, d_qk = 576, d_v = 512, bf16, page size 64, the
 * default schedule (132 SMs). Checks a smaller case against the float64 reference first, then
 * times one decode call (after a warm-up; median of the runs) and writes
 * bench/results/cpu-mla-decode.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { getMlaMetadata } from '../../src/attention/get-mla-metadata.js';
import { flashMlaWithKvcache } from '../../src/attention/flash-mla-with-kvcache.js';
import { naiveMlaDecode } from '../../src/reference/naive-attention.js';
import { makeMlaProblem, type MlaProblem } from '../../src/testing/problems.js';
import { decodeErrors } from '../../src/testing/compare.js';

const SHAPE = { b: 4, sK: 4096, hQ: 16, sQ: 1, dQk: 576, dV: 512, pageSize: 64 } as const;
const WARMUPS = 1;
const RUNS = 7;

function decode(p: MlaProblem) {
  const [, sQ, hQ] = p.q.shape;
  const md = getMlaMetadata(p.cacheSeqlens, sQ * hQ, 1);
  return flashMlaWithKvcache(
    p.q,
    p.kvCache,
    p.blockTable,
    p.cacheSeqlens,
    p.headDimV,
    md.tileSchedulerMetadata,
    md.numSplits,
  );
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Correctness first, on a case the float64 reference computes quickly

const check = makeMlaProblem({ b: 2, sK: 300, varlen: true, sQ: 1, hQ: 16, pageSize: 64, seed: 7 });
const checkErrors = decodeErrors(
  decode(check),
  naiveMlaDecode(check.q, check.kvCache, check.blockTable, check.cacheSeqlens, check.headDimV),
);
if (!(
  checkErrors.outRelativeError < 1e-2 &&
  checkErrors.outUlps <= 2 &&
  checkErrors.lseRelativeError <= 1e-5
)) {
  console.error('correctness check failed:', checkErrors);
  process.exit(1);
}
console.log(
  `correct: relative error ${checkErrors.outRelativeError.toExponential(2)}, ` +
    `worst element ${checkErrors.outUlps.toFixed(2)} bf16 ulps, lse ${checkErrors.lseRelativeError.toExponential(2)}`,
);

// ---------------------------------------------------------------------------------------------
// Timing

const problem = makeMlaProblem({ ...SHAPE, seed: 1 });
const meanLen = problem.seqlens.reduce((a, l) => a + l, 0) / problem.seqlens.length;
const flops = SHAPE.b * SHAPE.hQ * SHAPE.sQ * (2 * SHAPE.dQk + 2 * SHAPE.dV) * meanLen;

for (let i = 0; i < WARMUPS; i++) decode(problem);
const seconds: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const start = process.hrtime.bigint();
  decode(problem);
  seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
}
const medianSeconds = median(seconds);
const gflops = flops / medianSeconds / 1e9;
console.log(
  `b=${SHAPE.b} s_k=${SHAPE.sK} h_q=${SHAPE.hQ} s_q=${SHAPE.sQ}: ` +
    `${(medianSeconds * 1e3).toFixed(1)} ms, ${gflops.toFixed(2)} GFLOP/s (median of ${RUNS})`,
);

const result = {
  benchmark: 'cpu-mla-decode',
  command: 'npx tsc -p . && node dist/bench/cpu/mla-decode.js',
  machine: {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    threadsUsed: 1,
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
  },
  date: new Date().toISOString(),
  commit: gitCommit(),
  shape: { ...SHAPE, dtype: 'bfloat16', varlen: false, causal: false, numSms: 132, meanLen },
  flopsPerCall: flops,
  flopsFormula: 'b * h_q * s_q * (2 * d_qk + 2 * d_v) * meanLen',
  warmups: WARMUPS,
  runsSeconds: seconds,
  medianSeconds,
  gflopsPerSecond: gflops,
  correctnessCheck: {
    shape: { b: 2, sK: 300, varlen: true, sQ: 1, hQ: 16, dQk: 576, dV: 512, pageSize: 64 },
    ...checkErrors,
  },
};
const dir = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(`${dir}cpu-mla-decode.json`, JSON.stringify(result, null, 2) + '\n');
console.log(`wrote ${dir}cpu-mla-decode.json`);
