import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maxOf, minOf } from '../src/extremes.js';
import { naiveMlaDecode } from '../src/reference/naive-attention.js';
import { makeMlaProblem } from '../src/testing/problems.js';

test('maxOf and minOf take arrays far past the argument limit of a spread', () => {
  const values = Float64Array.from({ length: 1_000_000 }, (_, i) => Math.sin(i) * i);
  let max = -Infinity;
  let min = Infinity;
  for (const v of values) {
    if (v > max) max = v;
    if (v < min) min = v;
  }
  assert.equal(maxOf(values), max);
  assert.equal(minOf(values), min);
  assert.equal(maxOf([], 0), 0);
  assert.equal(minOf([]), Infinity);
});

test('the reference decodes a sequence of 600000 tokens', () => {
  const p = makeMlaProblem({
    seqlens: [600_000],
    sQ: 1,
    hQ: 1,
    pageSize: 64,
    dQk: 2,
    dV: 1,
    seed: 3,
  });
  const result = naiveMlaDecode(p.q, p.kvCache, p.blockTable, p.cacheSeqlens, p.headDimV);
  assert.ok(Number.isFinite(result.lse[0]), `lse ${result.lse[0]}`);
});
