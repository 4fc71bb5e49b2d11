import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError } from '../../src/errors.js';
import { applyPageCopies } from '../../src/kvcache/page-copies.js';
import { Tensor } from '../../src/tensor.js';

function randomValues(n: number): number[] {
  return Array.from({ length: n }, () => Math.random() * 2 - 1);
}

/** The same page copies done one element at a time through Tensor.get. */
function expectedAfter(
  cache: Tensor,
  copies: { srcPage: number; dstPage: number; rows: number }[],
): number[][][][] {
  const [numPages, pageSize, h, d] = cache.shape;
  const pages = Array.from({ length: numPages }, (_, p) =>
    Array.from({ length: pageSize }, (_, r) =>
      Array.from({ length: h }, (_, i) =>
        Array.from({ length: d }, (_, j) => cache.get(p, r, i, j)),
      ),
    ),
  );
  for (const c of copies) {
    for (let r = 0; r < c.rows; r++) pages[c.dstPage][r] = structuredClone(pages[c.srcPage][r]);
  }
  return pages;
}

function pagesOf(cache: Tensor): number[][][][] {
  return expectedAfter(cache, []);
}

const copies = [
  { srcPage: 1, dstPage: 3, rows: 2 },
  { srcPage: 3, dstPage: 0, rows: 4 },
  { srcPage: 2, dstPage: 2, rows: 1 },
];

test('applyPageCopies copies the leading rows of each page, in order (contiguous bf16)', () => {
  const cache = Tensor.from(randomValues(4 * 4 * 2 * 3), [4, 4, 2, 3], 'bfloat16');
  const expected = expectedAfter(cache, copies);
  applyPageCopies(cache, copies);
  assert.deepEqual(pagesOf(cache), expected);
  // Rows past `rows` keep their own values.
  assert.notDeepEqual(expected[3][2], expected[1][2]);
});

test('applyPageCopies follows the strides of a non-contiguous cache', () => {
  // Rows of a [4, 4, 2, 3] view whose last two dims are transposed in memory.
  const storage = Tensor.from(randomValues(4 * 4 * 3 * 2), [4, 4, 3, 2], 'float32');
  const cache = new Tensor('float32', [4, 4, 2, 3], storage.data, [24, 6, 1, 2]);
  const expected = expectedAfter(cache, copies);
  applyPageCopies(cache, copies);
  assert.deepEqual(pagesOf(cache), expected);
});

test('applyPageCopies checks every copy before applying any', () => {
  const cache = Tensor.from(randomValues(3 * 2 * 1 * 2), [3, 2, 1, 2], 'float32');
  const before = cache.data.slice();
  for (const [bad, argument] of [
    [{ srcPage: 3, dstPage: 0, rows: 1 }, 'copies[1].srcPage'],
    [{ srcPage: 0, dstPage: -1, rows: 1 }, 'copies[1].dstPage'],
    [{ srcPage: 0, dstPage: 1, rows: 3 }, 'copies[1].rows'],
  ] as const) {
    assert.throws(
      () => applyPageCopies(cache, [{ srcPage: 0, dstPage: 2, rows: 2 }, bad]),
      (e: unknown) => e instanceof ArgumentError && e.argument === argument,
    );
    assert.deepEqual(cache.data, before);
  }
  assert.throws(
    () => applyPageCopies(Tensor.zeros([4], 'float32'), []),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'cache.shape',
  );
});
