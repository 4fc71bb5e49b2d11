import { test } from 'node:test';
import assert from 'node:assert/strict';
import { combineSplits } from '../../../src/backend/cpu/combine.js';

// One sequence, s_q = 1, h_q = 1, d_v = 2, cut into the given splits.
function combine(splits: { lse: number; o: [number, number] }[]) {
  const partials = {
    o: Float32Array.from(splits.flatMap((s) => s.o)),
    lse: Float32Array.from(splits.map((s) => s.lse)),
  };
  const out = new Float32Array(2).fill(99);
  const lse = new Float32Array(1).fill(99);
  combineSplits(partials, Int32Array.from([0, splits.length]), 1, 1, 2, out, lse);
  return { out: [...out], lse: lse[0] };
}

test('two splits merge by their log-sum-exp weights', () => {
  const r = combine([
    { lse: Math.log(3), o: [1, -1] },
    { lse: Math.log(1), o: [0.5, 0.25] },
  ]);
  assert.ok(Math.abs(r.lse - Math.log(4)) < 1e-6);
  assert.ok(Math.abs(r.out[0] - (0.75 * 1 + 0.25 * 0.5)) < 1e-6);
  assert.ok(Math.abs(r.out[1] - (0.75 * -1 + 0.25 * 0.25)) < 1e-6);
});

test('a split with no key (lse -Infinity) adds nothing', () => {
  const r = combine([
    { lse: -Infinity, o: [0, 0] },
    { lse: 2.5, o: [0.125, -0.5] },
    { lse: -Infinity, o: [0, 0] },
  ]);
  assert.equal(r.lse, 2.5);
  assert.deepEqual(r.out, [0.125, -0.5]);
});

test('no key in any split gives out = 0 and lse = +Infinity', () => {
  const r = combine([
    { lse: -Infinity, o: [0, 0] },
    { lse: -Infinity, o: [0, 0] },
  ]);
  assert.equal(r.lse, Infinity);
  assert.deepEqual(r.out, [0, 0]);
});

test('large lse values do not overflow', () => {
  const r = combine([
    { lse: 1000, o: [1, 0] },
    { lse: 1000, o: [0, 1] },
  ]);
  assert.ok(Math.abs(r.lse - (1000 + Math.log(2))) < 1e-3);
  assert.deepEqual(r.out, [0.5, 0.5]);
});

test('sequences with one split are left as written', () => {
  const out = Float32Array.from([7, 8]);
  const lse = Float32Array.from([3]);
  combineSplits(
    { o: new Float32Array(2), lse: new Float32Array(1) },
    Int32Array.from([0, 1]),
    1,
    1,
    2,
    out,
    lse,
  );
  assert.deepEqual([...out], [7, 8]);
  assert.equal(lse[0], 3);
});
