import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, OutOfPagesError } from '../../src/errors.js';
import {
  PagedKvCache,
  type PagedKvCacheOptions,
  type SequenceId,
} from '../../src/kvcache/paged-kv-cache.js';

/** Everything the cache holds, to compare before and after an operation that must change nothing. */
function snapshot(cache: PagedKvCache): unknown {
  return structuredClone({ ...cache });
}

test('constructor rejects page counts and sizes that are not positive integers', () => {
  for (const [options, argument] of [
    [{ numPages: 0, pageSize: 16 }, 'numPages'],
    [{ numPages: 2.5, pageSize: 16 }, 'numPages'],
    [{ numPages: 4, pageSize: 0 }, 'pageSize'],
    [{ numPages: 4, pageSize: NaN }, 'pageSize'],
  ] as const) {
    assert.throws(
      () => new PagedKvCache(options),
      (e: unknown) => e instanceof ArgumentError && e.argument === argument,
    );
  }
});

test('append hands out slots page by page, lowest page first in a fresh pool', () => {
  const cache = new PagedKvCache({ numPages: 8, pageSize: 4 });
  const a = cache.createSequence();
  const b = cache.createSequence();
  assert.deepEqual([...cache.append(a, 6).slotMapping], [0, 1, 2, 3, 4, 5]);
  assert.deepEqual([...cache.append(b, 3).slotMapping], [8, 9, 10]);
  assert.deepEqual([...cache.append(a, 3).slotMapping], [6, 7, 12]);
  assert.deepEqual(cache.pages(a), [0, 1, 3]);
  assert.deepEqual(cache.pages(b), [2]);
  assert.equal(cache.length(a), 9);
  assert.equal(cache.append(a, 0).slotMapping.length, 0);
  assert.equal(cache.length(a), 9);
});

test('page size 1 gives one page per token', () => {
  const cache = new PagedKvCache({ numPages: 5, pageSize: 1 });
  const a = cache.createSequence();
  assert.deepEqual([...cache.append(a, 3).slotMapping], [0, 1, 2]);
  assert.equal(cache.stats().slotsUnused, 0);
  assert.throws(() => cache.append(a, 3), OutOfPagesError);
});

test('freed pages return at once and are reused last freed first, first page first', () => {
  const cache = new PagedKvCache({ numPages: 6, pageSize: 2 });
  const a = cache.createSequence();
  const b = cache.createSequence();
  cache.append(a, 5); // pages 0 1 2
  cache.append(b, 2); // page 3
  cache.free(a);
  assert.equal(cache.stats().pagesFree, 5);
  const c = cache.createSequence();
  cache.append(c, 8);
  assert.deepEqual(cache.pages(c), [0, 1, 2, 4]);
  assert.equal(cache.refCount(0), 1);
  assert.equal(cache.refCount(5), 0);
});

test('fork shares every page; appending to a shared partly filled page copies it first', () => {
  const cache = new PagedKvCache({ numPages: 8, pageSize: 4 });
  const parent = cache.createSequence();
  cache.append(parent, 6); // pages 0 (full), 1 (2 rows)
  const child = cache.fork(parent);
  assert.equal(cache.length(child), 6);
  assert.deepEqual(cache.pages(child), [0, 1]);
  assert.equal(cache.refCount(1), 2);
  assert.equal(cache.stats().pagesSavedBySharing, 2);

  const r = cache.append(child, 3);
  assert.deepEqual(r.copies, [{ srcPage: 1, dstPage: 2, rows: 2 }]);
  assert.deepEqual([...r.slotMapping], [10, 11, 12]);
  assert.deepEqual(cache.pages(child), [0, 2, 3]);
  assert.equal(cache.refCount(1), 1);
  assert.equal(cache.refCount(0), 2);

  // The parent is now the only holder of page 1: it appends in place.
  const p = cache.append(parent, 1);
  assert.deepEqual(p.copies, []);
  assert.deepEqual([...p.slotMapping], [6]);
});

test('a full shared page is never copied', () => {
  const cache = new PagedKvCache({ numPages: 4, pageSize: 4 });
  const parent = cache.createSequence();
  cache.append(parent, 8);
  const child = cache.fork(parent);
  const r = cache.append(child, 1);
  assert.deepEqual(r.copies, []);
  assert.deepEqual(cache.pages(child), [0, 1, 2]);
  assert.deepEqual([...r.slotMapping], [8]);
});

test('stats count logical tokens, unused slots once per physical page, and sharing', () => {
  const cache = new PagedKvCache({ numPages: 10, pageSize: 4 });
  const a = cache.createSequence();
  cache.append(a, 5); // pages 0, 1 (1 row)
  const b = cache.fork(a);
  const c = cache.fork(a);
  cache.append(c, 1); // copies page 1 into page 2, 2 rows
  // Pages 0 (held by a b c, full), 1 (a b, 1 row), 2 (c, 2 rows).
  assert.deepEqual(cache.stats(), {
    numPages: 10,
    pageSize: 4,
    pagesUsed: 3,
    pagesFree: 7,
    tokensStored: 16,
    slotsUnused: 3 + 2,
    pagesSavedBySharing: 2 + 1,
    numSequences: 3,
  });
  cache.free(a);
  cache.free(b);
  assert.deepEqual(cache.stats(), {
    numPages: 10,
    pageSize: 4,
    pagesUsed: 2,
    pagesFree: 8,
    tokensStored: 6,
    slotsUnused: 2,
    pagesSavedBySharing: 0,
    numSequences: 1,
  });
});

test('an append that does not fit throws OutOfPagesError and changes nothing', () => {
  const cache = new PagedKvCache({ numPages: 3, pageSize: 4 });
  const a = cache.createSequence();
  cache.append(a, 6);
  const before = snapshot(cache);
  assert.throws(
    () => cache.append(a, 7),
    (e: unknown) => e instanceof OutOfPagesError && e.needed === 2 && e.free === 1,
  );
  assert.deepEqual(snapshot(cache), before);
  assert.equal(cache.pagesNeeded(a, 7), 2);
  assert.equal(cache.pagesNeeded(a, 6), 1);
});

test('the copy-on-write page counts towards the pages an append needs', () => {
  const cache = new PagedKvCache({ numPages: 3, pageSize: 4 });
  const a = cache.createSequence();
  cache.append(a, 6);
  const b = cache.fork(a);
  // One token fits in the shared page's room, but b needs its own copy of that page: 1 page.
  assert.equal(cache.pagesNeeded(b, 1), 1);
  // Three tokens: the copy plus one more page; only one is free.
  assert.equal(cache.pagesNeeded(b, 3), 2);
  const before = snapshot(cache);
  assert.throws(
    () => cache.append(b, 3),
    (e: unknown) => e instanceof OutOfPagesError && e.needed === 2 && e.free === 1,
  );
  assert.deepEqual(snapshot(cache), before);
  assert.deepEqual(cache.append(b, 2).copies, [{ srcPage: 1, dstPage: 2, rows: 2 }]);
});

test('unknown or freed sequences and bad counts throw ArgumentError naming the argument', () => {
  const cache = new PagedKvCache({ numPages: 4, pageSize: 2 });
  const a = cache.createSequence();
  cache.free(a);
  const stranger = 99 as SequenceId;
  const isArg = (argument: string) => (e: unknown) =>
    e instanceof ArgumentError && e.argument === argument;
  assert.throws(() => cache.append(a, 1), isArg('seq'));
  assert.throws(() => cache.fork(stranger), isArg('seq'));
  assert.throws(() => cache.free(a), isArg('seq'));
  assert.throws(() => cache.length(stranger), isArg('seq'));
  assert.throws(() => cache.pages(a), isArg('seq'));
  const b = cache.createSequence();
  for (const n of [-1, 1.5, NaN, Infinity]) {
    assert.throws(() => cache.append(b, n), isArg('numTokens'));
    assert.throws(() => cache.extend(b, n), isArg('numTokens'));
  }
  assert.throws(() => cache.exportBatch([b, a]), isArg('seqs[1]'));
  assert.throws(() => cache.refCount(4), isArg('page'));
  assert.equal(cache.length(b), 0);
});

test('extend allocates exactly as append does', () => {
  const viaAppend = new PagedKvCache({ numPages: 9, pageSize: 3 });
  const viaExtend = new PagedKvCache({ numPages: 9, pageSize: 3 });
  for (const cache of [viaAppend, viaExtend]) cache.createSequence();
  const s = 0 as SequenceId;
  for (const n of [2, 5, 1]) {
    viaAppend.append(s, n);
    viaExtend.extend(s, n);
  }
  const fa = viaAppend.fork(s);
  const fe = viaExtend.fork(s);
  assert.deepEqual(viaExtend.extend(fe, 1), viaAppend.append(fa, 1).copies);
  assert.deepEqual(snapshot(viaExtend), snapshot(viaAppend));
});

test('exportBatch pads block tables with -1 and checks maxPages', () => {
  const cache = new PagedKvCache({ numPages: 8, pageSize: 2 });
  const a = cache.createSequence();
  const b = cache.createSequence();
  const empty = cache.createSequence();
  cache.append(a, 5);
  cache.append(b, 2);
  const { blockTable, cacheSeqlens } = cache.exportBatch([b, a, empty]);
  assert.deepEqual(blockTable.shape, [3, 3]);
  assert.equal(blockTable.dtype, 'int32');
  assert.deepEqual([...blockTable.data], [3, -1, -1, 0, 1, 2, -1, -1, -1]);
  assert.deepEqual([...cacheSeqlens.data], [2, 5, 0]);
  assert.equal(cacheSeqlens.dtype, 'int32');
  const wide = cache.exportBatch([a], 5);
  assert.deepEqual([...wide.blockTable.data], [0, 1, 2, -1, -1]);
  assert.throws(
    () => cache.exportBatch([a], 2),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'maxPages',
  );
  assert.deepEqual(cache.exportBatch([empty]).blockTable.shape, [1, 1]);
});

test('constructor rejects missing options, wrong types and pools past int32 slots', () => {
  const isArg = (argument: string) => (e: unknown) =>
    e instanceof ArgumentError && e.argument === argument;
  const make = (options: unknown) => () => new PagedKvCache(options as PagedKvCacheOptions);
  assert.throws(make(undefined), isArg('options'));
  assert.throws(make(null), isArg('options'));
  assert.throws(make({ numPages: -1, pageSize: 0 }), isArg('numPages'));
  assert.throws(make({ numPages: '4', pageSize: 16 }), isArg('numPages'));
  assert.throws(make({ numPages: 4, pageSize: 2 ** 53 }), isArg('pageSize'));
  assert.throws(make({ numPages: 2 ** 31, pageSize: 1 }), isArg('numPages'));
  // 2^16 pages of 2^15 rows: slot 2^31 - 1 would be the last, one past int32.
  assert.throws(make({ numPages: 2 ** 16, pageSize: 2 ** 15 }), (e: unknown) => {
    return e instanceof ArgumentError && e.argument === 'pageSize' && /2\^31 - 1/.test(e.message);
  });
  assert.equal(new PagedKvCache({ numPages: 2 ** 16, pageSize: 2 ** 15 - 1 }).numPages, 2 ** 16);
});

test('slots and lengths at the top of the int32 range stay exact', () => {
  const pageSize = Math.floor((2 ** 31 - 1) / 3);
  const cache = new PagedKvCache({ numPages: 3, pageSize });
  const a = cache.createSequence();
  const b = cache.createSequence();
  cache.extend(a, 2 * pageSize);
  assert.deepEqual([...cache.append(b, 2).slotMapping], [2 * pageSize, 2 * pageSize + 1]);
  const { cacheSeqlens } = cache.exportBatch([a, b]);
  assert.deepEqual([...cacheSeqlens.data], [2 * pageSize, 2]);
  assert.throws(() => new PagedKvCache({ numPages: 3, pageSize: pageSize + 1 }), ArgumentError);
});

test('bad calls throw ArgumentError and change nothing', () => {
  const cache = new PagedKvCache({ numPages: 4, pageSize: 2 });
  const a = cache.createSequence();
  cache.append(a, 3);
  const freed = cache.createSequence();
  cache.free(freed);
  const before = snapshot(cache);
  const calls: [() => unknown, string][] = [
    [() => cache.exportBatch(null as unknown as SequenceId[]), 'seqs'],
    [() => cache.exportBatch([a, 42 as SequenceId]), 'seqs[1]'],
    [() => cache.exportBatch([a], 1.5), 'maxPages'],
    [() => cache.append(a, -1), 'numTokens'],
    [() => cache.append(a, 1.5), 'numTokens'],
    [() => cache.append(a, '2' as unknown as number), 'numTokens'],
    [() => cache.append(a, 2 ** 31), 'numTokens'],
    [() => cache.fork(freed), 'seq'],
    [() => cache.append('0' as unknown as SequenceId, 1), 'seq'],
    [() => cache.refCount('1' as unknown as number), 'page'],
  ];
  for (const [call, argument] of calls) {
    assert.throws(call, (e: unknown) => e instanceof ArgumentError && e.argument === argument);
    assert.deepEqual(snapshot(cache), before);
  }
});
