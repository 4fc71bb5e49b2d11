import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuBackend } from '../../../src/backend/cpu/index.js';
import { getMlaMetadata } from '../../../src/backend/cpu/mla-metadata.js';
import { naiveGqaDecode } from '../../../src/reference/naive-attention.js';
import { makeGqaProblem, type GqaProblemOptions } from '../../../src/testing/problems.js';
import { decodeErrors } from '../../../src/testing/compare.js';
import { GQA_SHAPE_MATRIX } from '../../gqa-shape-matrix.js';

interface Case extends GqaProblemOptions {
  readonly name: string;
  readonly causal: boolean;
}

function run(c: Case, numSms: number, poison = true) {
  const p = makeGqaProblem({ ...c, poison });
  const hKv = c.hKv ?? 1;
  const metadata = getMlaMetadata(p.cacheSeqlens, (c.sQ * c.hQ) / hKv, hKv, numSms);
  const result = cpuBackend.gqaDecode(
    p.q,
    p.kCache,
    p.vCache,
    p.blockTable,
    p.cacheSeqlens,
    metadata,
    {
      softmaxScale: 1 / Math.sqrt(c.d),
      causal: c.causal,
    },
  );
  return { p, result, splits: metadata.numSplits.data[p.seqlens.length] };
}

const CASES: readonly Case[] = [
  {
    name: 'MHA, d 64, page size 1',
    seqlens: [90, 0, 150],
    sQ: 1,
    hQ: 8,
    hKv: 8,
    d: 64,
    pageSize: 1,
    causal: false,
    seed: 21,
  },
  {
    name: 'MQA, d 128, page size 16, causal',
    seqlens: [200, 3],
    sQ: 3,
    hQ: 16,
    hKv: 1,
    d: 128,
    pageSize: 16,
    causal: true,
    seed: 22,
  },
  {
    name: 'GQA 32/8, d 128, page size 16',
    b: 3,
    sK: 300,
    varlen: true,
    sQ: 1,
    hQ: 32,
    hKv: 8,
    d: 128,
    pageSize: 16,
    causal: false,
    seed: 23,
  },
  {
    name: 'GQA 16/4, d 256, page size 64, causal',
    seqlens: [260, 129],
    sQ: 2,
    hQ: 16,
    hKv: 4,
    d: 256,
    pageSize: 64,
    causal: true,
    seed: 24,
  },
  {
    name: 'MHA, d 256, float16',
    seqlens: [130, 70],
    sQ: 2,
    hQ: 4,
    hKv: 4,
    d: 256,
    pageSize: 16,
    dtype: 'float16',
    causal: true,
    seed: 25,
  },
  {
    name: 'MQA, d 64, s_q 4, page size 64',
    seqlens: [400, 2],
    sQ: 4,
    hQ: 32,
    hKv: 1,
    d: 64,
    pageSize: 64,
    causal: true,
    seed: 26,
  },
];

function assertMatchesReference(c: Case): void {
  const { p, result, splits } = run(c, 132);
  assert.ok(splits > p.seqlens.length, 'the case exercises split sequences');
  assert.deepEqual(result.out.shape, [p.seqlens.length, c.sQ, c.hQ, c.d]);
  const reference = naiveGqaDecode(p.q, p.kCache, p.vCache, p.blockTable, p.cacheSeqlens, c);
  const errors = decodeErrors(result, reference);
  assert.ok(errors.outRelativeError < 1e-2, `relative error ${errors.outRelativeError}`);
  assert.ok(errors.outUlps <= 2, `elementwise error ${errors.outUlps} ulps`);
  assert.ok(errors.lseRelativeError <= 1e-5, `lse error ${errors.lseRelativeError}`);
}

for (const c of CASES) {
  test(`GQA decode matches the float64 reference: ${c.name}`, () => assertMatchesReference(c));
}

// The shapes the GPU is checked on too (test/gpu/gqa-shapes.test.ts).
for (const c of GQA_SHAPE_MATRIX) {
  test(`GQA decode shape matches the float64 reference: ${c.name}`, () =>
    assertMatchesReference(c));
}

test('GQA: poison in unused rows and block-table entries does not change the result', () => {
  const c = CASES[2];
  const poisoned = run(c, 132, true).result;
  const clean = run(c, 132, false).result;
  assert.deepEqual(poisoned.out.data, clean.out.data);
  assert.deepEqual(poisoned.lse.data, clean.lse.data);
});

test('GQA: values come from vCache, not kCache', () => {
  // With V = K the output would be a mix of keys; check it really follows vCache.
  const c = CASES[1];
  const { p, result } = run(c, 132);
  const swapped = cpuBackend.gqaDecode(
    p.q,
    p.kCache,
    p.kCache,
    p.blockTable,
    p.cacheSeqlens,
    getMlaMetadata(p.cacheSeqlens, c.sQ * c.hQ, 1, 132),
    { softmaxScale: 1 / Math.sqrt(c.d), causal: true },
  );
  assert.deepEqual(swapped.lse.data, result.lse.data, 'the scores depend on keys only');
  assert.notDeepEqual(swapped.out.data, result.out.data);
});

test('GQA: only the K and V rows of attended tokens are read', async () => {
  const { recordAccesses } = await import('../../../src/testing/access-recorder.js');
  const p = makeGqaProblem({
    seqlens: [5, 0, 70],
    sQ: 2,
    hQ: 4,
    hKv: 2,
    d: 64,
    pageSize: 16,
    seed: 27,
  });
  const k = recordAccesses(p.kCache);
  const v = recordAccesses(p.vCache);
  const metadata = getMlaMetadata(p.cacheSeqlens, 4, 2, 132);
  cpuBackend.gqaDecode(p.q, k.tensor, v.tensor, p.blockTable, p.cacheSeqlens, metadata, {
    softmaxScale: 0.125,
    causal: true,
  });
  const allowed = new Set<number>();
  const [s0, s1, s2] = p.kCache.strides;
  p.seqlens.forEach((length, i) => {
    for (let t = 0; t < length; t++) {
      const page = p.layout.pages[i][Math.floor(t / 16)];
      for (let g = 0; g < 2; g++) {
        for (let c = 0; c < 64; c++) allowed.add(page * s0 + (t % 16) * s1 + g * s2 + c);
      }
    }
  });
  for (const [name, recorded] of [
    ['kCache', k],
    ['vCache', v],
  ] as const) {
    assert.deepEqual(
      [...recorded.reads].filter((i) => !allowed.has(i)),
      [],
      name,
    );
    assert.equal(recorded.reads.size, allowed.size, `${name}: every attended row was read`);
  }
});
