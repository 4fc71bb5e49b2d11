// GQA / MHA / MQA decode on the GPU against the float64 reference, any page size, d = 64/128/256.
import { test } from 'node:test';
import { makeGqaProblem, type GqaProblemOptions } from '../../src/testing/problems.js';
import { assertGpuCheck, checkOnGpu } from './decode-check.js';
import { skipWithoutGpu } from './gpu.js';

interface Case extends Omit<GqaProblemOptions, 'seed'> {
  readonly causal: boolean;
  readonly reference?: 'cpu' | 'device';
}

const CASES: Case[] = [
  { b: 4, sK: 300, varlen: true, sQ: 1, hQ: 32, hKv: 8, d: 128, pageSize: 16, causal: false },
  { b: 3, sK: 200, varlen: true, sQ: 2, hQ: 8, hKv: 8, d: 64, pageSize: 1, causal: true },
  { b: 3, sK: 500, varlen: true, sQ: 3, hQ: 16, hKv: 1, d: 256, pageSize: 64, causal: true },
  { b: 2, sK: 300, varlen: true, sQ: 4, hQ: 32, hKv: 4, d: 128, pageSize: 7, causal: true },
  {
    b: 2,
    sK: 100,
    varlen: true,
    sQ: 1,
    hQ: 16,
    hKv: 2,
    d: 64,
    pageSize: 16,
    causal: false,
    dtype: 'float16',
  },
  { seqlens: [0, 50, 0, 3], sQ: 4, hQ: 8, hKv: 2, d: 128, pageSize: 16, causal: true },
  {
    b: 1,
    sK: 32768,
    sQ: 1,
    hQ: 32,
    hKv: 8,
    d: 128,
    pageSize: 16,
    causal: false,
    reference: 'device',
  },
  {
    b: 128,
    sK: 1024,
    varlen: true,
    sQ: 1,
    hQ: 32,
    hKv: 8,
    d: 128,
    pageSize: 16,
    causal: false,
    reference: 'device',
  },
];

CASES.forEach((c, i) => {
  test(`GQA decode case ${i}: ${JSON.stringify(c)}`, { skip: skipWithoutGpu }, () => {
    const p = makeGqaProblem({ ...c, seed: 2000 + i });
    const r = checkOnGpu(p, { causal: c.causal, reference: c.reference ?? 'cpu' });
    assertGpuCheck(r, c.seqlens?.includes(0) ?? false);
  });
});
