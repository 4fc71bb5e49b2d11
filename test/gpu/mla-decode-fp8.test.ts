// MLA decode over FP8 caches on the GPU (docs/fp8-kv-cache.md), both formats: against the float64
// reference over the dequantized cache (the error must be a bf16 cache's, the output dtype's
// rounding), at pages of 1, 7, 8, 16, 64 and 256 tokens, s_q 1-4, causal, many splits, empty sequences,
// fp16 and float8_e4m3fn queries over fp8_e4m3, data with outliers (one value in each 128 of a row 100x the rest);
// every output element written (poisoned first). The error quantization
// adds against the original bf16 cache is printed. fp16 queries over fp8_ds_mla (bf16 rotary
// values) are refused before any launch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flashMlaWithKvcache } from '../../src/attention/flash-mla-with-kvcache.js';
import { ArgumentError } from '../../src/errors.js';
import type { Fp8CacheFormat } from '../../src/fp8/cache-formats.js';
import { naiveMlaDecode } from '../../src/reference/naive-attention.js';
import { compareOutputs } from '../../src/testing/compare.js';
import { dsMlaOf, withOutliers } from '../../src/testing/fp8-caches.js';
import { makeMlaProblem, type MlaProblemOptions } from '../../src/testing/problems.js';
import { assertGpuCheck, checkOnGpu, scheduledWithPoisonedOutputs } from './decode-check.js';
import { DeviceScope, skipWithoutGpu } from './gpu.js';

interface Case extends Omit<MlaProblemOptions, 'seed'> {
  readonly causal: boolean;
  readonly numSms?: number;
}

const CASES: Case[] = [
  { b: 4, sK: 300, varlen: true, sQ: 1, hQ: 16, pageSize: 64, causal: false },
  { b: 3, sK: 100, varlen: true, sQ: 2, hQ: 16, pageSize: 1, causal: true },
  { b: 5, sK: 500, varlen: true, sQ: 3, hQ: 32, pageSize: 16, causal: true },
  { b: 3, sK: 400, varlen: true, sQ: 4, hQ: 64, pageSize: 7, causal: true },
  { b: 2, sK: 600, varlen: true, sQ: 2, hQ: 128, pageSize: 64, causal: true, numSms: 7 },
  { seqlens: [0, 130, 0, 1, 64, 2], sQ: 4, hQ: 16, pageSize: 16, causal: true },
  { b: 1, sK: 5000, sQ: 1, hQ: 16, pageSize: 64, causal: false },
  { b: 3, sK: 700, varlen: true, sQ: 1, hQ: 128, pageSize: 256, causal: false, numSms: 5 },
  { b: 3, sK: 500, varlen: true, sQ: 2, hQ: 64, pageSize: 8, causal: true, numSms: 6 },
  { b: 2, sK: 300, varlen: true, sQ: 1, hQ: 128, pageSize: 1, causal: false, numSms: 4 },
];
const FORMATS: Fp8CacheFormat[] = ['fp8_ds_mla', 'fp8_e4m3'];

FORMATS.forEach((fp8, f) => {
  CASES.forEach((c, i) => {
    test(
      `MLA decode over ${fp8}, case ${i}: ${JSON.stringify(c)}`,
      { skip: skipWithoutGpu },
      () => {
        const p = makeMlaProblem({ ...c, seed: 3100 + 50 * f + i });
        const r = checkOnGpu(p, { causal: c.causal, numSms: c.numSms, reference: 'cpu', fp8 });
        assertGpuCheck(r, c.seqlens?.includes(0) ?? false);
        const o = { causal: c.causal };
        const bf16 = naiveMlaDecode(p.q, p.kvCache, p.blockTable, p.cacheSeqlens, 512, o);
        const added = compareOutputs(r.out, bf16.out).relativeError;
        console.log(
          `${fp8} case ${i}: out error ${r.outRelativeError.toExponential(2)} vs the dequantized ` +
            `cache, ${added.toExponential(2)} vs the bf16 cache; lse ${r.lseMaxAbsError.toExponential(2)}`,
        );
      },
    );
  });
});

FORMATS.forEach((fp8, f) => {
  test(`MLA decode over ${fp8}, data with outliers`, { skip: skipWithoutGpu }, () => {
    const c = { b: 3, sK: 300, varlen: true, sQ: 2, hQ: 16, pageSize: 16 };
    const p = makeMlaProblem({ ...c, seed: 3180 + f });
    const withThem = { ...p, kvCache: withOutliers(p.kvCache, 128, 4, 3180 + f) };
    const r = checkOnGpu(withThem, { causal: true, reference: 'cpu', fp8 });
    assertGpuCheck(r, false);
  });
});

// float8_e4m3fn queries over fp8_e4m3 (descaleQ): up to 32 rows a KV head the scores on the FP8
// tensor cores (keys x rows kernel); more rows on pages of a power of two of tokens both products
// on the codes (64-row e4m3 kernel: cases 4, 7, 8 and 9), on other pages converted to bf16 as
// they load (case 3).
CASES.forEach((c, i) => {
  test(
    `MLA decode over fp8_e4m3 with e4m3 queries, case ${i}: ${JSON.stringify(c)}`,
    { skip: skipWithoutGpu },
    () => {
      const p = makeMlaProblem({ ...c, seed: 3200 + i });
      const r = checkOnGpu(p, {
        causal: c.causal,
        numSms: c.numSms,
        reference: 'cpu',
        fp8: 'fp8_e4m3',
        e4m3Queries: true,
      });
      assertGpuCheck(r, c.seqlens?.includes(0) ?? false);
      console.log(`e4m3 q case ${i}: out error ${r.outRelativeError.toExponential(2)}`);
    },
  );
});

// 64 query rows a KV head take the 64-row kernel, 16 the keys x rows one.
[32, 8].forEach((hQ, i) => {
  test(
    `MLA decode over fp8_e4m3 with fp16 queries, ${2 * hQ} rows`,
    { skip: skipWithoutGpu },
    () => {
      const c = { b: 3, sK: 400, varlen: true, sQ: 2, hQ, pageSize: 16, dtype: 'float16' as const };
      const p = makeMlaProblem({ ...c, seed: 3190 + 10 * i });
      const r = checkOnGpu(p, { causal: true, reference: 'cpu', fp8: 'fp8_e4m3' });
      assertGpuCheck(r, false);
    },
  );
});

test(
  'fp16 queries over fp8_ds_mla are refused on the GPU before any launch',
  { skip: skipWithoutGpu },
  () => {
    using scope = new DeviceScope();
    const p = makeMlaProblem({
      b: 2,
      sK: 100,
      sQ: 1,
      hQ: 16,
      pageSize: 16,
      dtype: 'float16',
      seed: 3191,
    });
    const { cacheSeqlens: lens, meta, out } = scheduledWithPoisonedOutputs(scope, p);
    assert.throws(
      () =>
        flashMlaWithKvcache(
          scope.upload(p.q),
          scope.upload(dsMlaOf(p.kvCache).fp8),
          scope.upload(p.blockTable),
          lens,
          512,
          meta.tileSchedulerMetadata,
          meta.numSplits,
          { isFp8Kvcache: true, out },
        ),
      (e: unknown) => e instanceof ArgumentError && e.argument === 'q',
    );
    assert.ok(out.toHost().toFloat32().every(Number.isNaN), 'nothing written');
  },
);
