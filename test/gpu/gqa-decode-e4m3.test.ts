// GQA / MHA / MQA decode over fp8_e4m3 K and V caches on the GPU (docs/fp8-kv-cache.md): against
// the float64 reference over the dequantized caches (the error must be the bf16 cache's, the
// output dtype's rounding), at pages of 1, 7, 16 and 64, d = 64 / 128 / 256, s_q 1-4 causal, up to
// 48 query rows per KV head (a block for each 16), bf16, fp16 and float8_e4m3fn queries, empty
// sequences; every output element written (poisoned first). The error quantization adds against
// the original bf16 caches is printed.
import { test } from 'node:test';
import { naiveGqaDecode } from '../../src/reference/naive-attention.js';
import { compareOutputs } from '../../src/testing/compare.js';
import { makeGqaProblem } from '../../src/testing/problems.js';
import { Tensor } from '../../src/tensor.js';
import { assertGpuCheck, checkOnGpu } from './decode-check.js';
import { SMALL_GQA_CASES, type GqaCase } from './gqa-cases.js';
import { skipWithoutGpu } from './gpu.js';

// The shared cases (the MQA one has 48 query rows per KV head: a block for each 16), and more rows
// per KV head: 32 (two groups) and 40 (the last group partly filled), causal. The last two have
// more sequences than a KV head has parts, so that a block walks several short pieces (one or two
// tiles each, empty ones among them): each slice's own ring of pieces and the query rows copied two
// tiles ahead at head dims 128 and 256.
const CASES: GqaCase[] = [
  ...SMALL_GQA_CASES,
  { b: 1, sK: 6000, sQ: 1, hQ: 32, hKv: 8, d: 128, pageSize: 16, causal: false },
  { b: 2, sK: 700, sQ: 1, hQ: 16, hKv: 16, d: 256, pageSize: 16, causal: false, dtype: 'float16' },
  { b: 3, sK: 400, varlen: true, sQ: 2, hQ: 16, hKv: 1, d: 128, pageSize: 16, causal: true },
  { b: 2, sK: 300, varlen: true, sQ: 4, hQ: 20, hKv: 2, d: 64, pageSize: 1, causal: true },
  { b: 48, sK: 150, varlen: true, sQ: 1, hQ: 32, hKv: 8, d: 128, pageSize: 16, causal: false },
  {
    seqlens: [0, 90, 300, 0, 17, 260, 1, 0, 140, 33, 0, 210, 5, 280, 0, 64, 120, 0, 250, 9],
    sQ: 2,
    hQ: 16,
    hKv: 8,
    d: 256,
    pageSize: 1,
    causal: true,
  },
];

CASES.forEach((c, i) => {
  test(
    `GQA decode over fp8_e4m3, case ${i}: ${JSON.stringify(c)}`,
    { skip: skipWithoutGpu },
    () => {
      const p = makeGqaProblem({ ...c, seed: 2600 + i });
      const r = checkOnGpu(p, { causal: c.causal, reference: 'cpu', fp8: 'fp8_e4m3' });
      assertGpuCheck(r, c.seqlens?.includes(0) ?? false);
      const o = { causal: c.causal };
      const bf16 = naiveGqaDecode(p.q, p.kCache, p.vCache, p.blockTable, p.cacheSeqlens, o);
      const added = compareOutputs(r.out, bf16.out).relativeError;
      console.log(
        `case ${i}: out error ${r.outRelativeError.toExponential(2)} vs the dequantized caches, ` +
          `${added.toExponential(2)} vs the bf16 caches; lse ${r.lseMaxAbsError.toExponential(2)}`,
      );
    },
  );
});

// float8_e4m3fn queries (descaleQ): made fp16 (exactly) once a piece, their scale in the scores'.
CASES.filter((c) => c.dtype !== 'float16').forEach((c, i) => {
  test(
    `GQA decode over fp8_e4m3 with e4m3 queries, case ${i}: ${JSON.stringify(c)}`,
    { skip: skipWithoutGpu },
    () => {
      const p = makeGqaProblem({ ...c, seed: 2650 + i });
      const r = checkOnGpu(p, {
        causal: c.causal,
        reference: 'cpu',
        fp8: 'fp8_e4m3',
        e4m3Queries: true,
      });
      assertGpuCheck(r, c.seqlens?.includes(0) ?? false);
    },
  );
});

// bf16 queries beyond fp16's range both ways (the kernel makes each row fp16 times its own power of
// two): rows of 2^18 would overflow fp16 unscaled, rows of 2^-22 or 2^-40 would lose their bits to
// fp16's subnormals. The softmax scale brings the scores back to the usual range, so that the check
// sees each row's precision; the rows of a KV head differ by up to 4x.
[
  { factor: 2 ** 18, b: 2, sK: 500, sQ: 1, hQ: 32, hKv: 8, d: 128, pageSize: 16, causal: false },
  { factor: 2 ** -22, b: 2, sK: 300, sQ: 2, hQ: 12, hKv: 2, d: 64, pageSize: 1, causal: true },
  { factor: 2 ** -40, b: 1, sK: 200, sQ: 1, hQ: 6, hKv: 1, d: 256, pageSize: 7, causal: false },
].forEach(({ factor, ...c }, i) => {
  test(
    `GQA decode over fp8_e4m3, bf16 queries times ${factor}, case ${i}: ${JSON.stringify(c)}`,
    { skip: skipWithoutGpu },
    () => {
      const p = makeGqaProblem({ ...c, seed: 2700 + i });
      const values = p.q.toFloat32();
      for (let row = 0; row < values.length / c.d; row++) {
        const f = factor * 2 ** ((row % 3) - 1);
        for (let x = 0; x < c.d; x++) values[row * c.d + x] *= f;
      }
      const q = Tensor.from(values, p.q.shape, 'bfloat16');
      const r = checkOnGpu(
        { ...p, q },
        {
          causal: c.causal,
          reference: 'cpu',
          fp8: 'fp8_e4m3',
          softmaxScale: 1 / (factor * Math.sqrt(c.d)),
        },
      );
      assertGpuCheck(r, false);
    },
  );
});
