import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuBackend } from '../../../src/backend/cpu/index.js';
import { getMlaMetadata } from '../../../src/backend/cpu/mla-metadata.js';
import { naiveMlaDecode } from '../../../src/reference/naive-attention.js';
import { makeMlaProblem, type MlaProblemOptions } from '../../../src/testing/problems.js';
import { decodeErrors, maxRelativeError, maxUlpError } from '../../../src/testing/compare.js';
import type { DecodeResult } from '../../../src/backend/backend.js';
import type { Tensor } from '../../../src/tensor.js';

interface Case extends MlaProblemOptions {
  readonly causal: boolean;
  readonly softmaxScale?: number;
}

function decode(c: Case, numSms: number, poison = true): DecodeResult<Tensor> & { splits: number } {
  const p = makeMlaProblem({ ...c, poison });
  const hKv = c.hKv ?? 1;
  const metadata = getMlaMetadata(p.cacheSeqlens, (c.sQ * c.hQ) / hKv, hKv, numSms);
  const dQk = p.q.shape[3];
  const result = cpuBackend.mlaDecode(
    p.q,
    p.kvCache,
    p.blockTable,
    p.cacheSeqlens,
    p.headDimV,
    metadata,
    {
      softmaxScale: c.softmaxScale ?? 1 / Math.sqrt(dQk),
      causal: c.causal,
    },
  );
  return { ...result, splits: metadata.numSplits.data[p.seqlens.length] };
}

function checkAgainstReference(c: Case): void {
  const p = makeMlaProblem(c);
  const reference = naiveMlaDecode(p.q, p.kvCache, p.blockTable, p.cacheSeqlens, p.headDimV, c);
  const result = decode(c, 132);
  assert.ok(result.splits > p.seqlens.length, 'the case exercises split sequences');
  assert.deepEqual(result.out.shape, [p.seqlens.length, c.sQ, c.hQ, p.headDimV]);
  assert.equal(result.out.dtype, c.dtype ?? 'bfloat16');
  assert.deepEqual(result.lse.shape, [p.seqlens.length, c.hQ, c.sQ]);
  assert.equal(result.lse.dtype, 'float32');
  const errors = decodeErrors(result, reference);
  assert.ok(errors.outRelativeError < 1e-2, `relative error ${errors.outRelativeError}`);
  assert.ok(errors.outUlps <= 2, `elementwise error ${errors.outUlps} ulps`);
  assert.ok(errors.lseRelativeError <= 1e-5, `lse error ${errors.lseRelativeError}`);
}

const CASES: readonly (Case & { readonly name: string })[] = [
  {
    name: 'page size 1, an empty sequence',
    seqlens: [70, 0, 130],
    sQ: 1,
    hQ: 16,
    pageSize: 1,
    causal: false,
    seed: 1,
  },
  {
    name: 'page size 16, varlen, causal',
    b: 3,
    sK: 200,
    varlen: true,
    sQ: 2,
    hQ: 32,
    pageSize: 16,
    causal: true,
    seed: 2,
  },
  {
    name: 'page size 64, s_q 4 longer than a sequence, causal',
    seqlens: [257, 1, 64],
    sQ: 4,
    hQ: 16,
    pageSize: 64,
    causal: true,
    seed: 3,
  },
  {
    name: 'page size 64, s_q 3 without causal',
    seqlens: [129, 2],
    sQ: 3,
    hQ: 16,
    pageSize: 64,
    causal: false,
    seed: 4,
  },
  { name: 'h_q 128', seqlens: [190, 75], sQ: 1, hQ: 128, pageSize: 16, causal: false, seed: 5 },
  {
    name: 'h_q 128, s_q 2, causal',
    seqlens: [140],
    sQ: 2,
    hQ: 128,
    pageSize: 64,
    causal: true,
    seed: 6,
  },
  {
    name: 'h_kv 2',
    seqlens: [150, 90],
    sQ: 2,
    hQ: 16,
    hKv: 2,
    pageSize: 16,
    causal: true,
    seed: 7,
  },
  {
    name: 'h_kv 4, h_q 32',
    seqlens: [100, 200],
    sQ: 1,
    hQ: 32,
    hKv: 4,
    pageSize: 1,
    causal: false,
    seed: 8,
  },
  {
    name: 'float16',
    seqlens: [180, 33],
    sQ: 2,
    hQ: 16,
    pageSize: 16,
    dtype: 'float16',
    causal: true,
    seed: 9,
  },
  {
    name: 'a softmax scale of 0.3',
    seqlens: [160, 70],
    sQ: 1,
    hQ: 16,
    pageSize: 16,
    softmaxScale: 0.3,
    causal: false,
    seed: 10,
  },
  {
    name: 's_q 4 without causal, page size 1, a sequence shorter than s_q',
    seqlens: [90, 3],
    sQ: 4,
    hQ: 16,
    pageSize: 1,
    causal: false,
    seed: 17,
  },
  {
    name: 'small head dims (d_qk 64, d_v 48)',
    seqlens: [300, 5, 131],
    sQ: 4,
    hQ: 32,
    dQk: 64,
    dV: 48,
    pageSize: 16,
    causal: true,
    seed: 11,
  },
];

for (const c of CASES) {
  test(`MLA decode matches the float64 reference: ${c.name}`, () => checkAgainstReference(c));
}

test('sequences with no keys give out = 0 and lse = +Infinity', () => {
  const c: Case = { seqlens: [0, 90, 0, 2], sQ: 4, hQ: 16, pageSize: 16, causal: true, seed: 12 };
  const result = decode(c, 132);
  const out = result.out.toFloat32();
  const lse = result.lse.toFloat32();
  const perSeq = 4 * 16 * 512;
  for (const seq of [0, 2]) {
    assert.ok(out.subarray(seq * perSeq, (seq + 1) * perSeq).every((v) => v === 0));
    assert.ok(lse.subarray(seq * 64, (seq + 1) * 64).every((v) => v === Infinity));
  }
  // Sequence 3 has 2 keys and 4 causal queries: queries 0 and 1 see none, 2 and 3 see 1 and 2.
  for (let h = 0; h < 16; h++) {
    const row = lse.subarray((3 * 16 + h) * 4, (3 * 16 + h) * 4 + 4);
    assert.equal(row[0], Infinity);
    assert.equal(row[1], Infinity);
    assert.ok(Number.isFinite(row[2]) && Number.isFinite(row[3]));
  }
  for (let j = 0; j < 2; j++) {
    const start = 3 * perSeq + j * 16 * 512;
    assert.ok(out.subarray(start, start + 16 * 512).every((v) => v === 0));
  }
  assert.ok(out.subarray(3 * perSeq + 2 * 16 * 512).some((v) => v !== 0));
});

test('NaN in unused cache rows and garbage block-table entries do not change the result', () => {
  for (const pageSize of [1, 16, 64]) {
    const c: Case = { seqlens: [77, 0, 200, 64], sQ: 2, hQ: 16, pageSize, causal: true, seed: 13 };
    const poisoned = decode(c, 132, true);
    const clean = decode(c, 132, false);
    assert.deepEqual(poisoned.out.data, clean.out.data, `out, page size ${pageSize}`);
    assert.deepEqual(poisoned.lse.data, clean.lse.data, `lse, page size ${pageSize}`);
    assert.ok(!poisoned.out.toFloat32().some(Number.isNaN));
  }
});

test('split and unsplit schedules agree to rounding', () => {
  const c: Case = {
    b: 3,
    sK: 400,
    varlen: true,
    sQ: 2,
    hQ: 16,
    pageSize: 16,
    causal: true,
    seed: 14,
  };
  const split = decode(c, 132);
  const whole = decode(c, 1);
  assert.equal(whole.splits, 3, 'one part: every sequence in one split');
  assert.ok(split.splits > 10, `many splits (${split.splits})`);
  assert.ok(maxUlpError(split.out, whole.out, 'bfloat16', 1e-3) <= 1);
  assert.ok(maxRelativeError(split.lse, whole.lse) <= 1e-6);
});

test('strided q (a view with padded heads) gives the same result as a dense q', async () => {
  const { Tensor } = await import('../../../src/tensor.js');
  const c: Case = { seqlens: [100, 40], sQ: 1, hQ: 16, pageSize: 16, causal: false, seed: 15 };
  const p = makeMlaProblem(c);
  const metadata = getMlaMetadata(p.cacheSeqlens, 16, 1, 132);
  const options = { softmaxScale: 0.05, causal: false };
  const dense = cpuBackend.mlaDecode(
    p.q,
    p.kvCache,
    p.blockTable,
    p.cacheSeqlens,
    512,
    metadata,
    options,
  );
  // The same values with each head row padded to 600 entries.
  const padded = new Uint16Array(2 * 16 * 600).fill(0x7fc0);
  for (let r = 0; r < 32; r++)
    padded.set(p.q.data.subarray(r * 576, (r + 1) * 576) as Uint16Array, r * 600);
  const strided = new Tensor('bfloat16', [2, 1, 16, 576], padded, [9600, 9600, 600, 1]);
  const viaView = cpuBackend.mlaDecode(
    strided,
    p.kvCache,
    p.blockTable,
    p.cacheSeqlens,
    512,
    metadata,
    options,
  );
  assert.deepEqual(viaView.out.data, dense.out.data);
  assert.deepEqual(viaView.lse.data, dense.lse.data);
});

test('only the cache rows of attended tokens are read', async () => {
  const { recordAccesses } = await import('../../../src/testing/access-recorder.js');
  for (const causal of [false, true]) {
    const p = makeMlaProblem({
      seqlens: [9, 0, 70, 1],
      sQ: 2,
      hQ: 4,
      hKv: 2,
      pageSize: 4,
      dQk: 16,
      dV: 8,
      seed: 16,
    });
    const recorded = recordAccesses(p.kvCache);
    const metadata = getMlaMetadata(p.cacheSeqlens, 4, 2, 132);
    cpuBackend.mlaDecode(p.q, recorded.tensor, p.blockTable, p.cacheSeqlens, 8, metadata, {
      softmaxScale: 0.25,
      causal,
    });
    const allowed = new Set<number>();
    const [s0, s1, s2] = p.kvCache.strides;
    p.seqlens.forEach((length, i) => {
      for (let t = 0; t < length; t++) {
        const page = p.layout.pages[i][Math.floor(t / 4)];
        for (let g = 0; g < 2; g++) {
          for (let c = 0; c < 16; c++) allowed.add(page * s0 + (t % 4) * s1 + g * s2 + c);
        }
      }
    });
    const stray = [...recorded.reads].filter((i) => !allowed.has(i));
    assert.deepEqual(stray, [], `causal ${causal}: reads outside the attended rows`);
    assert.equal(recorded.reads.size, allowed.size, 'every attended row was read');
    assert.equal(recorded.writes.size, 0);
  }
});
