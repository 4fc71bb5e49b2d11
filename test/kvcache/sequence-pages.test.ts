import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PagedKvCache } from '../../src/kvcache/paged-kv-cache.js';
import { PageLists, pagesInUse } from '../../src/kvcache/sequence-pages.js';

test('page lists double as they grow and reuse the lists of ended sequences', () => {
  const lists = new PageLists(100);
  const seq = lists.empty();
  lists.reserve(seq, 3);
  assert.equal(seq.pages.length, 4);
  seq.pages.set([7, 8, 9]);
  seq.count = 3;
  lists.reserve(seq, 5);
  assert.equal(seq.pages.length, 8);
  assert.deepEqual([...pagesInUse(seq)], [7, 8, 9]);
  // The outgrown list of 4 is spare: a copy of 2 pages takes it instead of allocating.
  const spare = lists.copy({ pages: seq.pages, count: 2, length: 5 });
  assert.equal(spare.pages.length, 4);
  assert.deepEqual([...pagesInUse(spare)], [7, 8]);
  // Never more than the pool's pages: a list of 80 does not double past 100.
  lists.reserve(spare, 80);
  lists.reserve(spare, 81);
  assert.equal(spare.pages.length, 100);
});

test('a page left to one holder by a copy on write grows in place and frees with its rows', () => {
  const cache = new PagedKvCache({ numPages: 6, pageSize: 4 });
  const parent = cache.createSequence();
  cache.append(parent, 5); // pages [0, 1], page 1 holds 1 row
  const child = cache.fork(parent);
  assert.deepEqual(cache.append(child, 1).copies, [{ srcPage: 1, dstPage: 2, rows: 1 }]);
  // Page 1 is the parent's alone now: no copy, its rows 1-2 are written in place.
  const { slotMapping, copies } = cache.append(parent, 2);
  assert.deepEqual([...slotMapping], [5, 6]);
  assert.equal(copies.length, 0);
  assert.equal(cache.stats().slotsUnused, 1 + 2); // page 1: 3 of 4 rows, page 2: 2 of 4
  cache.free(parent); // page 1 returns with its 3 rows; page 0 stays with the child
  assert.deepEqual(cache.stats(), {
    numPages: 6,
    pageSize: 4,
    pagesUsed: 2,
    pagesFree: 4,
    tokensStored: 6,
    slotsUnused: 2,
    pagesSavedBySharing: 0,
    numSequences: 1,
  });
  // The freed page is handed out first, into the parent's recycled list.
  const next = cache.createSequence();
  assert.deepEqual([...cache.append(next, 5).slotMapping], [4, 5, 6, 7, 12]);
  assert.deepEqual(cache.pages(next), [1, 3]);
});
