import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Random, sequenceLengths } from '../../src/testing/random.js';
import { makeMlaProblem, makeGqaProblem } from '../../src/testing/problems.js';
import { compareOutputs, maxRelativeError, maxUlpError } from '../../src/testing/compare.js';

test('Random is deterministic per seed and roughly uniform / normal', () => {
  const a = new Random(5);
  const b = new Random(5);
  const c = new Random(6);
  const xs = Array.from({ length: 20000 }, () => a.uniform());
  assert.deepEqual(
    xs.slice(0, 10),
    Array.from({ length: 10 }, () => b.uniform()),
  );
  assert.notEqual(xs[0], c.uniform());
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.01);
  const zs = Array.from({ length: 20000 }, () => a.normal());
  const zMean = zs.reduce((s, z) => s + z, 0) / zs.length;
  const zVar = zs.reduce((s, z) => s + (z - zMean) ** 2, 0) / zs.length;
  assert.ok(Math.abs(zMean) < 0.03 && Math.abs(zVar - 1) < 0.05);
});

test('varlen lengths are max(round(normal(sK, sK/2)), sQ)', () => {
  const lengths = sequenceLengths(new Random(1), 2000, 1000, 3, true);
  assert.ok(lengths.every((l) => Number.isInteger(l) && l >= 3));
  const mean = lengths.reduce((s, l) => s + l, 0) / lengths.length;
  assert.ok(Math.abs(mean - 1000) < 40, `mean ${mean}`);
  assert.ok(new Set(lengths).size > 500);
  assert.deepEqual(sequenceLengths(new Random(1), 3, 64, 1, false), [64, 64, 64]);
});

test('makeMlaProblem: permuted pages, NaN in unused rows, garbage past the last pages', () => {
  const p = makeMlaProblem({
    seqlens: [70, 0, 33],
    sQ: 2,
    hQ: 4,
    pageSize: 16,
    seed: 3,
    dQk: 8,
    dV: 4,
  });
  const { numPages, pageSize, maxPages, pages } = p.layout;
  assert.deepEqual(p.kvCache.shape, [numPages, 16, 1, 8]);
  assert.deepEqual(p.q.shape, [3, 2, 4, 8]);
  assert.deepEqual(
    pages.map((ps) => ps.length),
    [5, 0, 3],
  );
  const used = pages.flat();
  assert.equal(new Set(used).size, used.length, 'no page is shared');
  assert.ok(numPages > used.length, 'the pool has free pages');
  assert.notDeepEqual(
    used,
    [...used].sort((a, b) => a - b),
    'pages are permuted',
  );
  const kv = p.kvCache.toFloat32();
  const table = p.blockTable.data;
  for (let i = 0; i < 3; i++) {
    for (let e = pages[i].length; e < maxPages; e++) {
      const entry = table[i * maxPages + e];
      assert.ok(entry < 0 || entry >= numPages, `entry ${e} of sequence ${i} is garbage`);
    }
  }
  for (let page = 0; page < numPages; page++) {
    for (let row = 0; row < pageSize; row++) {
      const slot = page * pageSize + row;
      const values = kv.subarray(slot * 8, (slot + 1) * 8);
      if (p.layout.usedRows[slot]) assert.ok(values.every((v) => Number.isFinite(v) && v !== 0));
      else assert.ok(values.every(Number.isNaN));
    }
  }
  // Sequence 0's token 69 is row 5 of its fifth page; token 70 would be unused.
  assert.equal(p.layout.usedRows[pages[0][4] * 16 + 5], 1);
  assert.equal(p.layout.usedRows[pages[0][4] * 16 + 6], 0);
  assert.ok(p.q.toFloat32().every((v) => v !== 0 && Math.abs(v) <= 1));
});

test('the clean variant shares the used data and has zeros where the poison was', () => {
  const options = { seqlens: [40, 9], sQ: 1, hQ: 2, hKv: 2, pageSize: 8, seed: 4, d: 64 };
  const poisoned = makeGqaProblem(options);
  const clean = makeGqaProblem({ ...options, poison: false });
  assert.deepEqual(clean.q.data, poisoned.q.data);
  const used = poisoned.layout.usedRows;
  for (const [a, b] of [
    [poisoned.kCache.toFloat32(), clean.kCache.toFloat32()],
    [poisoned.vCache.toFloat32(), clean.vCache.toFloat32()],
  ]) {
    for (let slot = 0; slot < used.length; slot++) {
      for (let c = 0; c < 128; c++) {
        const i = slot * 128 + c;
        if (used[slot]) assert.equal(a[i], b[i]);
        else assert.ok(Number.isNaN(a[i]) && b[i] === 0);
      }
    }
  }
  const maxPages = clean.layout.maxPages;
  assert.equal(clean.blockTable.data[1 * maxPages + 2], 0);
  assert.ok(poisoned.blockTable.data[1 * maxPages + 2] !== 0);
});

test('compareOutputs and friends', () => {
  const c = compareOutputs([1, 2.5, Infinity], [1, 2, 4]);
  assert.equal(c.maxAbsError, Infinity);
  const d = compareOutputs([1, 2.5, -3], [1, 2, -3]);
  assert.equal(d.maxAbsError, 0.5);
  assert.ok(Math.abs(d.relativeError - 0.5 / Math.sqrt(14)) < 1e-12);
  assert.equal(compareOutputs([Infinity, 0], [Infinity, 0]).maxAbsError, 0, 'equal infinities');
  assert.ok(Number.isNaN(compareOutputs([NaN, 1], [1, 1]).maxAbsError));
  assert.ok(Number.isNaN(compareOutputs([1, NaN], [1, 1]).relativeError));
  assert.equal(maxRelativeError([Infinity, 2.5], [Infinity, 2]), 0.25);
  assert.ok(Number.isNaN(maxRelativeError([1, NaN], [1, 2])));
  // bf16 spacing at 1 is 2^-7: one ulp off.
  assert.equal(maxUlpError([1 + 2 ** -7], [1], 'bfloat16', 0), 1);
  assert.equal(maxUlpError([1 + 2 ** -10], [1], 'float16', 0), 1);
  // Below the floor the spacing at the floor counts.
  assert.equal(maxUlpError([2 ** -20], [0], 'bfloat16', 1), 2 ** -20 / 2 ** -7);
  assert.ok(Number.isNaN(maxUlpError([NaN, 5], [1, 5], 'float16', 0)));
});
