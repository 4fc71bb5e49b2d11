/**
 * Random wrong types, shapes and ranges thrown at the public constructors and the schedule: every
 * call either gives a correct result or throws one of the package's typed errors, never a raw
 * TypeError or RangeError, and a PagedKvCache call that throws leaves the cache as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getMlaMetadata } from '../src/attention/get-mla-metadata.js';
import { MAX_NUM_SMS, METADATA_ROW_WIDTH } from '../src/schedule/index.js';
import { DTYPES, MAX_HOST_ELEMENTS, type DType } from '../src/dtype.js';
import { FlashMlaError } from '../src/errors.js';
import { PagedKvCache, type SequenceId } from '../src/kvcache/paged-kv-cache.js';
import { Tensor } from '../src/tensor.js';

/** Anything a caller from plain JavaScript might pass, weighted towards near misses. */
const anything: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -3, max: 40 }),
  fc.constantFrom(0, -1, 0.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 53, 1e10, -0),
  fc.double(),
  fc.string({ maxLength: 3 }),
  fc.constantFrom(null, undefined, true, '8', 8n, [], {}, [2], () => 1),
);

/** Sizes: anything but large valid ones, whose allocation would take a while. */
const sizeArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -3, max: 40 }),
  fc.constantFrom(0.5, NaN, Infinity, 2 ** 33, 2 ** 53, 1e10, '8', null, undefined, [4], {}),
);

/** `call` returns a result `check` accepts, or throws a FlashMlaError; true when it threw. */
function typedOrCorrect<T>(call: () => T, check: (result: T) => void): boolean {
  let result: T;
  try {
    result = call();
  } catch (e) {
    assert.ok(e instanceof FlashMlaError, `not a typed error: ${String(e)}`);
    return true;
  }
  check(result);
  return false;
}

const dtypeArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...DTYPES) },
  { weight: 1, arbitrary: anything },
);

const shapeArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(sizeArb, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.constant([2 ** 40]) },
  { weight: 1, arbitrary: anything },
);

test('Tensor.zeros and Tensor.from give a correct tensor or a typed error', () => {
  fc.assert(
    fc.property(shapeArb, dtypeArb, fc.array(anything, { maxLength: 12 }), (shape, dtype, vals) => {
      typedOrCorrect(
        () => Tensor.zeros(shape as number[], dtype as DType),
        (t) => {
          assert.ok(t.numel <= MAX_HOST_ELEMENTS);
          assert.ok(t.toFloat32().every((v) => v === 0));
        },
      );
      typedOrCorrect(
        () => Tensor.from(vals as number[], shape as number[], dtype as DType),
        (t) => {
          assert.equal(t.numel, vals.length);
          assert.ok(vals.every((v) => typeof v === 'number'));
          // int32 storage keeps every integer in range (-0 reads back as 0).
          if (t.dtype === 'int32')
            assert.deepEqual(
              [...t.data],
              vals.map((v) => (v as number) + 0),
            );
        },
      );
    }),
    { numRuns: 400 },
  );
});

test('getMlaMetadata gives a schedule of the right shape or a typed error', () => {
  const lengths = fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 4 });
  fc.assert(
    fc.property(lengths, anything, anything, anything, (lens, perHead, heads, numSms) => {
      const cacheSeqlens = Tensor.from(lens, [lens.length], 'int32');
      typedOrCorrect(
        () =>
          getMlaMetadata(cacheSeqlens, perHead as number, heads as number, {
            numSms: numSms as number,
          }),
        (m) => {
          const parts = m.tileSchedulerMetadata.shape[0];
          assert.ok(parts >= 1 && parts <= MAX_NUM_SMS);
          assert.deepEqual(m.tileSchedulerMetadata.shape, [parts, METADATA_ROW_WIDTH]);
          assert.deepEqual(m.numSplits.shape, [lens.length + 1]);
        },
      );
    }),
    { numRuns: 300 },
  );
});

type CacheCall = (cache: PagedKvCache, seq: SequenceId, x: unknown) => unknown;

const cacheCalls: readonly CacheCall[] = [
  (c, s, x) => c.append(s, x as number),
  (c, s, x) => c.extend(s, x as number),
  (c, s, x) => c.pagesNeeded(s, x as number),
  (c, _s, x) => c.fork(x as SequenceId),
  (c, _s, x) => c.free(x as SequenceId),
  (c, _s, x) => c.length(x as SequenceId),
  (c, _s, x) => c.refCount(x as number),
  (c, s, x) => c.exportBatch([s], x as number),
  (c, _s, x) => c.exportBatch(x as SequenceId[]),
  (c, _s, x) => c.exportBatch([x as SequenceId]),
];

/** Slots of an append result lie in the pool; lengths of an exported batch within capacity. */
function checkCacheResult(cache: PagedKvCache, result: unknown): void {
  const slots = cache.numPages * cache.pageSize;
  const r = result as { slotMapping?: Int32Array; cacheSeqlens?: Tensor } | undefined;
  for (const slot of r?.slotMapping ?? []) assert.ok(slot >= 0 && slot < slots, `slot ${slot}`);
  for (const len of r?.cacheSeqlens?.data ?? []) assert.ok(len >= 0 && len <= slots);
}

test('PagedKvCache gives a typed error, changing nothing, or a correct result', () => {
  const options = fc.oneof(fc.record({ numPages: sizeArb, pageSize: sizeArb }), anything);
  const calls = fc.array(fc.tuple(fc.nat(cacheCalls.length - 1), sizeArb), { maxLength: 12 });
  fc.assert(
    fc.property(options, calls, (opts, ops) => {
      typedOrCorrect(
        () => new PagedKvCache(opts as { numPages: number; pageSize: number }),
        (cache) => {
          assert.ok(cache.numPages * cache.pageSize <= 2 ** 31 - 1);
          const seq = cache.createSequence();
          for (const [which, x] of ops) {
            const before = structuredClone({ ...cache });
            const threw = typedOrCorrect(
              () => cacheCalls[which](cache, seq, x),
              (result) => checkCacheResult(cache, result),
            );
            if (threw) assert.deepStrictEqual(structuredClone({ ...cache }), before);
          }
        },
      );
    }),
    { numRuns: 300 },
  );
});
