import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gatherQueryRows, queryRows } from '../../src/testing/query-rows.js';

test('queryRows lists (batch, token, head) in that nesting order', () => {
  assert.deepEqual(
    [...queryRows(2, 2, 3, [2, 0])],
    [0, 0, 2, 0, 0, 0, 0, 1, 2, 0, 1, 0, 1, 0, 2, 1, 0, 0, 1, 1, 2, 1, 1, 0],
  );
  assert.equal(queryRows(3, 2, 4).length, 3 * 2 * 4 * 3);
});

test('gatherQueryRows reads out [b, s_q, h_q, d_v] and lse [b, h_q, s_q] row by row', () => {
  const b = 2,
    sQ = 3,
    hQ = 4,
    dV = 5;
  // Every element encodes its own coordinates, so a wrong index shows as a wrong value.
  const out = Float32Array.from({ length: b * sQ * hQ * dV }, (_, k) => k);
  const lse = new Float32Array(b * hQ * sQ);
  for (let i = 0; i < b; i++)
    for (let h = 0; h < hQ; h++)
      for (let j = 0; j < sQ; j++) lse[(i * hQ + h) * sQ + j] = 100 * i + 10 * j + h;
  const rows = Int32Array.from([1, 2, 3, 0, 1, 0, 1, 0, 2]);
  const g = gatherQueryRows(out, lse, rows, { sQ, hQ, dV });
  assert.deepEqual([...g.lse], [123, 10, 102]);
  const start = (i: number, j: number, h: number): number => ((i * sQ + j) * hQ + h) * dV;
  assert.deepEqual(
    [...g.out.subarray(0, dV)],
    [0, 1, 2, 3, 4].map((c) => start(1, 2, 3) + c),
  );
  assert.deepEqual(
    [...g.out.subarray(2 * dV)],
    [0, 1, 2, 3, 4].map((c) => start(1, 0, 2) + c),
  );
});
