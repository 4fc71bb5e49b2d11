// MLA decode on the GPU, end to end from TypeScript, against the references on random data: pages
// permuted, NaN in unused cache rows, garbage block-table entries past the used pages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeMlaProblem, type MlaProblemOptions } from '../../src/testing/problems.js';
import { assertGpuCheck, checkOnGpu } from './decode-check.js';
import { skipWithoutGpu } from './gpu.js';

interface Case extends Omit<MlaProblemOptions, 'seed'> {
  readonly causal: boolean;
  readonly reference?: 'cpu' | 'device';
  readonly numSms?: number;
}

const CASES: Case[] = [
  { b: 4, sK: 300, varlen: true, sQ: 1, hQ: 16, pageSize: 64, causal: false },
  { b: 3, sK: 100, varlen: true, sQ: 2, hQ: 16, pageSize: 1, causal: true },
  { b: 5, sK: 500, varlen: true, sQ: 3, hQ: 32, pageSize: 16, causal: true },
  { b: 3, sK: 700, varlen: true, sQ: 4, hQ: 64, pageSize: 64, causal: true },
  { b: 4, sK: 1000, varlen: true, sQ: 1, hQ: 128, pageSize: 64, causal: false },
  { b: 2, sK: 300, varlen: true, sQ: 4, hQ: 128, pageSize: 64, causal: true },
  { b: 2, sK: 300, varlen: true, sQ: 2, hQ: 128, pageSize: 16, causal: false, numSms: 7 },
  { seqlens: [0, 130, 0, 1, 64, 2], sQ: 4, hQ: 16, pageSize: 64, causal: true },
  { seqlens: [0, 0], sQ: 1, hQ: 32, pageSize: 16, causal: false },
  { b: 3, sK: 400, varlen: true, sQ: 2, hQ: 32, pageSize: 64, causal: true, dtype: 'float16' },
  // Pages of 8 and 32 tokens: TMA boxes of whole pages (8 and 2 a tile), split sequences, fp16.
  { b: 3, sK: 600, varlen: true, sQ: 2, hQ: 128, pageSize: 8, causal: true, numSms: 5 },
  {
    seqlens: [1, 63, 64, 65, 129, 191],
    sQ: 1,
    hQ: 64,
    pageSize: 32,
    causal: false,
    dtype: 'float16',
  },
  // Pages TMA cannot tile, through the gather producer: odd sizes (its divisions), a size of two,
  // one of 96 (64 or more, not a power of two); odd and even tile counts, split sequences.
  { b: 3, sK: 500, varlen: true, sQ: 2, hQ: 128, pageSize: 7, causal: true },
  { b: 4, sK: 700, varlen: true, sQ: 1, hQ: 16, pageSize: 96, causal: false, dtype: 'float16' },
  { b: 2, sK: 1000, varlen: true, sQ: 1, hQ: 32, pageSize: 2, causal: false, numSms: 5 },
  { seqlens: [1, 63, 64, 65, 129, 191], sQ: 3, hQ: 64, pageSize: 5, causal: true, numSms: 3 },
  { b: 3, sK: 400, varlen: true, sQ: 1, hQ: 32, hKv: 2, pageSize: 64, causal: false },
  // fp16 through the two-warpgroup kernel (64-key pages, more than 32 rows per KV head).
  { b: 3, sK: 900, varlen: true, sQ: 2, hQ: 128, pageSize: 64, causal: true, dtype: 'float16' },
  { seqlens: [0, 64, 65, 1, 200], sQ: 1, hQ: 64, pageSize: 64, causal: false, dtype: 'float16' },
  { b: 1, sK: 32768, sQ: 1, hQ: 128, pageSize: 64, causal: false, reference: 'device' },
  { b: 1, sK: 32768, sQ: 2, hQ: 16, pageSize: 64, causal: true, reference: 'device' },
  {
    b: 128,
    sK: 1024,
    varlen: true,
    sQ: 1,
    hQ: 16,
    pageSize: 64,
    causal: false,
    reference: 'device',
  },
  {
    b: 128,
    sK: 512,
    varlen: true,
    sQ: 2,
    hQ: 128,
    pageSize: 64,
    causal: true,
    reference: 'device',
  },
];

CASES.forEach((c, i) => {
  const name = `MLA decode case ${i}: ${JSON.stringify(c)}`;
  test(name, { skip: skipWithoutGpu }, () => {
    const p = makeMlaProblem({ ...c, seed: 1000 + i });
    const r = checkOnGpu(p, {
      causal: c.causal,
      numSms: c.numSms,
      reference: c.reference ?? 'cpu',
    });
    assertGpuCheck(r, c.seqlens?.includes(0) ?? false);
  });
});

test('a long single sequence is split across the GPU', { skip: skipWithoutGpu }, () => {
  const p = makeMlaProblem({ b: 1, sK: 32768, sQ: 1, hQ: 16, pageSize: 64, seed: 5 });
  const r = checkOnGpu(p, { causal: false, reference: 'device' });
  assert.ok(r.splits > 16, `splits ${r.splits}`);
  assertGpuCheck(r, false);
});
