/**
 * The prefix cache on a hand-made pool: blocks of 4 tokens, pages of 2 (2 pages a block), 10 pages,
 * 1 byte per token. Every figure below is worked out in the comments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError } from '../../src/errors.js';
import type { SequenceId } from '../../src/kvcache/paged-kv-cache.js';
import { PagedPrefixPolicy } from '../../src/simulate/paged-prefix-policy.js';

// [prompt tokens, block ids]
const REQUESTS: [number, number[]][] = [
  [9, [1, 2, 3]], // 2 whole blocks (the third is partly filled: its own)
  [10, [1, 2, 7]], // the same 2 leading blocks
  [8, [5, 2]], // id 2 after another prefix: no match
  [4, [1]], // the first block only
];

function policy(): PagedPrefixPolicy {
  return new PagedPrefixPolicy({
    pageSize: 2,
    budgetBytes: 20,
    bytesPerToken: 1,
    numRequests: REQUESTS.length,
    promptTokens: Int32Array.from(REQUESTS, (r) => r[0]),
    hashIds: REQUESTS.map((r) => Int32Array.from(r[1])),
    blockTokens: 4,
  });
}

test('hits share pages, idle blocks stay cached and are evicted least recently used', () => {
  const p = policy();
  const { cache } = p;
  // r0: 2 new blocks (4 pages) + 1 token in a page of its own: 5 pages.
  assert.equal(p.admit(0, 9), 'admitted');
  assert.equal(cache.pagesFree, 5);
  // r1: both blocks hit (no page), 2 tokens in 1 page; it ends a page, so 1 more is kept free.
  assert.equal(p.admit(1, 10), 'admitted');
  assert.equal(cache.pagesFree, 4);
  // Block pages 0..3: held by their block, r0 and r1.
  // r0's sequence (made before its 2 block sequences): the blocks' pages, then its own.
  assert.deepEqual(cache.pages(0 as SequenceId), [0, 1, 2, 3, 4]);
  assert.deepEqual(
    [0, 1, 2, 3].map((page) => cache.refCount(page)),
    [3, 3, 3, 3],
  );
  // r2: 2 new blocks (4 pages), plus 1 page for r1 and 1 for r2 at a page end: 6 > 4 free.
  assert.equal(p.admit(2, 8), 'no-memory');
  assert.equal(cache.pagesFree, 4);
  // r0 ends: its own page comes back; the blocks are still r1's.
  p.release(0);
  assert.equal(cache.pagesFree, 5);
  assert.equal(p.slotsInUse(), 10); // 5 pages of 2
  // r1 ends: its page comes back, both blocks go idle (4 pages, cached, not held).
  p.release(1);
  assert.equal(cache.pagesFree, 6);
  assert.equal(p.prefix.idlePages, 4);
  assert.equal(p.slotsInUse(), 0);
  // r2: 4 new pages + 1 kept free <= 6 free: nothing evicted.
  assert.equal(p.admit(2, 8), 'admitted');
  assert.equal(cache.pagesFree, 2);
  // r3: its block is idle and cached: a hit, no page; 1 + 1 pages kept free <= 2 + 2 evictable.
  assert.equal(p.admit(3, 4), 'admitted');
  assert.equal(cache.pagesFree, 2);
  assert.equal(p.prefix.idlePages, 2); // block [1, 2] only
  // r2 and r3 end pages: each takes a free page, then each writes into it.
  for (const r of [2, 3, 2, 3]) assert.equal(p.grow(r), true);
  assert.equal(cache.pagesFree, 0);
  // r2 needs a page: the least recently used idle block, [1, 2], is evicted (2 pages), 1 taken.
  assert.equal(p.grow(2), true);
  assert.equal(cache.pagesFree, 1);
  assert.equal(p.prefix.idlePages, 0);
  // Prompt tokens 9 + 10 + 8 + 4 = 31; hits: r1's 8 and r3's 4.
  assert.deepEqual(p.prefixStats(), {
    promptTokens: 31,
    hitTokens: 12,
    hitRate: 12 / 31,
    blocksStored: 4,
    blocksEvicted: 1,
  });
});

test('with nothing idle to evict, a growing request finds no page', () => {
  const p = policy();
  // r0 (5 pages) and r2 (4 new pages, 1 kept free): 9 pages, 1 free.
  assert.equal(p.admit(0, 9), 'admitted');
  assert.equal(p.admit(2, 8), 'admitted');
  assert.equal(p.grow(2), true); // the last page
  assert.equal(p.grow(2), true); // room in it
  assert.equal(p.grow(0), true); // room in r0's page
  assert.equal(p.grow(0), false); // a page, none free, none idle
  assert.equal(p.cache.pagesFree, 0);
});

test('a page size that does not divide the block size is an ArgumentError', () => {
  assert.throws(
    () =>
      new PagedPrefixPolicy({
        pageSize: 3,
        budgetBytes: 30,
        bytesPerToken: 1,
        numRequests: 0,
        promptTokens: new Int32Array(0),
        hashIds: undefined,
        blockTokens: 4,
      }),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'pageSize',
  );
});
