// GQA / MHA / MQA decode on the GPU against the float64 reference, any page size, d = 64/128/256.
import { test } from 'node:test';
import { makeGqaProblem } from '../../src/testing/problems.js';
import { assertGpuCheck, checkOnGpu } from './decode-check.js';
import { SMALL_GQA_CASES, type GqaCase } from './gqa-cases.js';
import { skipWithoutGpu } from './gpu.js';

interface Case extends GqaCase {
  readonly reference?: 'cpu' | 'device';
}

const CASES: Case[] = [
  ...SMALL_GQA_CASES,
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
