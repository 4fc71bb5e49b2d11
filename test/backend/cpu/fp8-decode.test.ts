// Decode over FP8 caches is decode over the dequantized cache (docs/fp8-kv-cache.md): it matches
// the float64 reference over the dequantized values to the output dtype's rounding, and where the
// dequantized values are bf16 (fp8_ds_mla's power-of-two scales) it is bit for bit the bf16 decode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuBackend } from '../../../src/backend/cpu/index.js';
import { getMlaMetadata } from '../../../src/backend/cpu/mla-metadata.js';
import type { DecodeResult, Fp8Decode } from '../../../src/backend/backend.js';
import { naiveGqaDecode, naiveMlaDecode } from '../../../src/reference/naive-attention.js';
import { makeGqaProblem, makeMlaProblem, type MlaProblem } from '../../../src/testing/problems.js';
import { decodeErrors } from '../../../src/testing/compare.js';
import { dsMlaOf, e4m3Of } from '../../../src/testing/fp8-caches.js';
import { recordAccesses } from '../../../src/testing/access-recorder.js';
import { Tensor } from '../../../src/tensor.js';

const PAGE_SIZES = [1, 16, 64] as const;
/** The MLA problems' shape besides lengths and pages: DeepSeek's dims, h_q 16, s_q 2 (causal). */
const MLA = { sQ: 2, hQ: 16 } as const;

function assertMatchesReference(
  result: DecodeResult<Tensor>,
  reference: { out: ArrayLike<number>; lse: ArrayLike<number> },
  what: string,
): void {
  const errors = decodeErrors(result, reference);
  assert.ok(errors.outRelativeError < 1e-2, `${what}: relative error ${errors.outRelativeError}`);
  assert.ok(errors.outUlps <= 2, `${what}: elementwise error ${errors.outUlps} ulps`);
  assert.ok(errors.lseRelativeError <= 1e-5, `${what}: lse error ${errors.lseRelativeError}`);
}

/** MLA decode of `p`'s lengths and block table over `kvCache`, causal, on the CPU backend. */
function mlaDecode(p: MlaProblem, q: Tensor, kvCache: Tensor, fp8?: Fp8Decode<Tensor>) {
  const [, sQ, hQ] = q.shape;
  const metadata = getMlaMetadata(p.cacheSeqlens, sQ * hQ, 1, 132);
  const options = { softmaxScale: 1 / Math.sqrt(576), causal: true, ...(fp8 && { fp8 }) };
  return cpuBackend.mlaDecode(q, kvCache, p.blockTable, p.cacheSeqlens, 512, metadata, options);
}

/** The bf16 tensor of float32 values that bf16 holds exactly (asserted). */
function exactBf16(t: Tensor): Tensor {
  const values = t.toFloat32();
  const bf16 = Tensor.from(values, t.shape, 'bfloat16');
  assert.deepEqual(bf16.toFloat32(), values, 'the dequantized values are bf16 values');
  return bf16;
}

for (const pageSize of PAGE_SIZES) {
  test(`MLA over fp8_ds_mla, page size ${pageSize}, causal s_q 2: the dequantized cache's decode`, () => {
    const p = makeMlaProblem({ ...MLA, seqlens: [70, 0, 133], pageSize, seed: 80 + pageSize });
    const cache = dsMlaOf(p.kvCache);
    const result = mlaDecode(p, p.q, cache.fp8, { cacheFormat: 'fp8_ds_mla' });
    assert.deepEqual(result.out.shape, [3, 2, 16, 512]);
    assert.equal(result.out.dtype, 'bfloat16');
    const bf16 = mlaDecode(p, p.q, exactBf16(cache.dequantized));
    assert.deepEqual(result.out.data, bf16.out.data, 'out, bit for bit');
    assert.deepEqual(result.lse.data, bf16.lse.data, 'lse, bit for bit');
    const { blockTable, cacheSeqlens } = p;
    const reference = naiveMlaDecode(p.q, cache.dequantized, blockTable, cacheSeqlens, 512, {
      causal: true,
    });
    assertMatchesReference(result, reference, 'against the reference');
  });

  test(`MLA over fp8_e4m3, page size ${pageSize}, causal s_q 2: bf16 and e4m3 queries`, () => {
    const p = makeMlaProblem({ ...MLA, seqlens: [150, 2, 61], pageSize, seed: 90 + pageSize });
    const { blockTable, cacheSeqlens } = p;
    const cache = e4m3Of(p.kvCache); // descale amax / 448: not a power of two
    const fp8 = { cacheFormat: 'fp8_e4m3', descaleK: cache.descale } as const;
    const result = mlaDecode(p, p.q, cache.fp8, fp8);
    const reference = naiveMlaDecode(p.q, cache.dequantized, blockTable, cacheSeqlens, 512, {
      causal: true,
    });
    assertMatchesReference(result, reference, 'bf16 q');

    const q = e4m3Of(p.q);
    const e4m3Q = mlaDecode(p, q.fp8, cache.fp8, { ...fp8, descaleQ: q.descale });
    assert.equal(e4m3Q.out.dtype, 'bfloat16', 'e4m3 queries give bfloat16');
    const qReference = naiveMlaDecode(
      q.dequantized,
      cache.dequantized,
      blockTable,
      cacheSeqlens,
      512,
      {
        causal: true,
      },
    );
    assertMatchesReference(e4m3Q, qReference, 'e4m3 q');

    // With a power-of-two scale the dequantized values are bf16 too: the bf16 decode's bits.
    const exact = e4m3Of(p.kvCache, 2 ** -8);
    const viaFp8 = mlaDecode(p, p.q, exact.fp8, {
      cacheFormat: 'fp8_e4m3',
      descaleK: exact.descale,
    });
    const viaBf16 = mlaDecode(p, p.q, exactBf16(exact.dequantized));
    assert.deepEqual(viaFp8.out.data, viaBf16.out.data);
    assert.deepEqual(viaFp8.lse.data, viaBf16.lse.data);
  });
}

for (const d of [64, 128, 256]) {
  for (const pageSize of PAGE_SIZES) {
    test(`GQA d ${d} over fp8_e4m3, page size ${pageSize}, causal s_q 2: bf16 and e4m3 queries`, () => {
      const seed = 100 + d + pageSize;
      const p = makeGqaProblem({ seqlens: [90, 0, 141], sQ: 2, hQ: 8, hKv: 2, d, pageSize, seed });
      const k = e4m3Of(p.kCache);
      const v = e4m3Of(p.vCache, 2 ** -8); // a scale unlike K's: a mix-up would show
      const metadata = getMlaMetadata(p.cacheSeqlens, 8, 2, 132);
      const run = (q: Tensor, descaleQ?: Tensor) =>
        cpuBackend.gqaDecode(q, k.fp8, v.fp8, p.blockTable, p.cacheSeqlens, metadata, {
          softmaxScale: 1 / Math.sqrt(d),
          causal: true,
          fp8: { cacheFormat: 'fp8_e4m3', descaleK: k.descale, descaleV: v.descale, descaleQ },
        });
      const reference = (q: Tensor) =>
        naiveGqaDecode(q, k.dequantized, v.dequantized, p.blockTable, p.cacheSeqlens, {
          causal: true,
        });
      assertMatchesReference(run(p.q), reference(p.q), 'bf16 q');
      const q = e4m3Of(p.q);
      const e4m3Q = run(q.fp8, q.descale);
      assert.equal(e4m3Q.out.dtype, 'bfloat16');
      assertMatchesReference(e4m3Q, reference(q.dequantized), 'e4m3 q');
    });
  }
}

test('over fp8_ds_mla, exactly the 656 bytes of each attended token are read', () => {
  const p = makeMlaProblem({ seqlens: [9, 0, 70, 1], sQ: 2, hQ: 4, pageSize: 4, seed: 86 });
  const cache = dsMlaOf(p.kvCache);
  const recorded = recordAccesses(cache.fp8);
  mlaDecode(p, p.q, recorded.tensor, { cacheFormat: 'fp8_ds_mla' });
  const allowed = new Set<number>();
  p.seqlens.forEach((length, i) => {
    for (let t = 0; t < length; t++) {
      const slot = p.layout.pages[i][Math.floor(t / 4)] * 4 + (t % 4);
      for (let b = 0; b < 656; b++) allowed.add(slot * 656 + b);
    }
  });
  assert.deepEqual(
    [...recorded.reads].filter((i) => !allowed.has(i)),
    [],
    'no stray read',
  );
  assert.equal(recorded.reads.size, allowed.size, 'every attended byte was read');
  assert.equal(recorded.writes.size, 0);
});
