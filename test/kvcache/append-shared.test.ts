import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError } from '../../src/errors.js';
import { PagedKvCache } from '../../src/kvcache/paged-kv-cache.js';

test('appendShared adds the source pages by reference, and free returns them once unheld', () => {
  const cache = new PagedKvCache({ numPages: 8, pageSize: 4 });
  // A block of 8 tokens: pages 0, 1.
  const block = cache.createSequence();
  cache.extend(block, 8);
  const seq = cache.createSequence();
  cache.appendShared(seq, block);
  cache.extend(seq, 2); // page 2, its own
  assert.deepEqual(cache.pages(seq), [0, 1, 2]);
  assert.equal(cache.length(seq), 10);
  assert.deepEqual([cache.refCount(0), cache.refCount(1), cache.refCount(2)], [2, 2, 1]);
  // 3 pages used, 18 logical tokens, 2 unused slots in page 2, 2 pages saved by sharing.
  assert.deepEqual(cache.stats(), {
    numPages: 8,
    pageSize: 4,
    pagesUsed: 3,
    pagesFree: 5,
    tokensStored: 18,
    slotsUnused: 2,
    pagesSavedBySharing: 2,
    numSequences: 2,
  });
  cache.free(block);
  assert.equal(cache.pagesFree, 5); // the request still holds them
  cache.free(seq);
  assert.equal(cache.pagesFree, 8);
  assert.equal(cache.stats().slotsUnused, 0);
});

test('a shared partly filled last page is copied on the next append', () => {
  const cache = new PagedKvCache({ numPages: 4, pageSize: 4 });
  const block = cache.createSequence();
  cache.extend(block, 6); // pages 0, 1 (2 rows)
  const seq = cache.createSequence();
  cache.appendShared(seq, block);
  assert.deepEqual(cache.extend(seq, 1), [{ srcPage: 1, dstPage: 2, rows: 2 }]);
  assert.deepEqual(cache.pages(seq), [0, 2]);
  assert.equal(cache.refCount(1), 1);
});

test('appendShared off a page boundary, onto itself or past the pool throws and changes nothing', () => {
  const cache = new PagedKvCache({ numPages: 3, pageSize: 4 });
  const block = cache.createSequence();
  cache.extend(block, 8);
  const odd = cache.createSequence();
  cache.extend(odd, 1);
  const big = cache.createSequence();
  cache.appendShared(big, block); // 2 pages; another 2 would make 4 > numPages
  const before = structuredClone({ ...cache });
  for (const [call, argument] of [
    [() => cache.appendShared(odd, block), 'seq'],
    [() => cache.appendShared(block, block), 'source'],
    [() => cache.appendShared(big, block), 'source'],
  ] as const) {
    assert.throws(call, (e: unknown) => e instanceof ArgumentError && e.argument === argument);
    assert.deepEqual(structuredClone({ ...cache }), before);
  }
});
