// GQA / MHA / MQA decode over fp8_e4m3 K and V caches on the GPU (docs/fp8-kv-cache.md): against
// the float64 reference over the dequantized caches (the error must be the bf16 cache's, the
// output dtype's rounding), at pages of 1, 7, 16 and 64, d = 64 / 128 / 256, s_q 1-4 causal,
// bf16, fp16 and float8_e4m3fn queries, empty sequences; every output element written (poisoned
// first). The
// error quantization adds against the original bf16 caches is printed. More than 16 query rows per
// KV head (s_q * h_q / h_kv) is refused before any launch: the e4m3 kernel is the few-rows one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gqaDecodeWithKvcache } from '../../src/attention/gqa-decode-with-kvcache.js';
import { NativeError } from '../../src/errors.js';
import { naiveGqaDecode } from '../../src/reference/naive-attention.js';
import { compareOutputs } from '../../src/testing/compare.js';
import { e4m3Of } from '../../src/testing/fp8-caches.js';
import { makeGqaProblem } from '../../src/testing/problems.js';
import { assertGpuCheck, checkOnGpu, scheduledWithPoisonedOutputs } from './decode-check.js';
import { SMALL_GQA_CASES, type GqaCase } from './gqa-cases.js';
import { DeviceScope, skipWithoutGpu } from './gpu.js';

// The shared cases, each within the e4m3 kernel's 16 query rows per KV head (the MQA case at s_q 1).
const CASES: GqaCase[] = [
  ...SMALL_GQA_CASES.map((c) => ((c.sQ * c.hQ) / (c.hKv ?? 1) > 16 ? { ...c, sQ: 1 } : c)),
  { b: 1, sK: 6000, sQ: 1, hQ: 32, hKv: 8, d: 128, pageSize: 16, causal: false },
  { b: 2, sK: 700, sQ: 1, hQ: 16, hKv: 16, d: 256, pageSize: 16, causal: false, dtype: 'float16' },
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

// float8_e4m3fn queries (descaleQ): converted to bf16 as they load, their scale in the scores'.
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

test(
  'GQA decode over fp8_e4m3 with more than 16 query rows per KV head is refused',
  {
    skip: skipWithoutGpu,
  },
  () => {
    using scope = new DeviceScope();
    const p = makeGqaProblem({
      b: 2,
      sK: 100,
      sQ: 2,
      hQ: 16,
      hKv: 1,
      d: 128,
      pageSize: 16,
      seed: 2690,
    });
    const k = e4m3Of(p.kCache);
    const v = e4m3Of(p.vCache);
    const { cacheSeqlens: lens, meta, out } = scheduledWithPoisonedOutputs(scope, p);
    assert.throws(
      () =>
        gqaDecodeWithKvcache(
          scope.upload(p.q),
          scope.upload(k.fp8),
          scope.upload(v.fp8),
          scope.upload(p.blockTable),
          lens,
          meta.tileSchedulerMetadata,
          meta.numSplits,
          { descaleK: scope.upload(k.descale), descaleV: scope.upload(v.descale), out },
        ),
      (e: unknown) =>
        e instanceof NativeError && /at most 16 query rows per KV head/.test(e.message),
    );
    assert.ok(out.toHost().toFloat32().every(Number.isNaN), 'nothing written');
  },
);
