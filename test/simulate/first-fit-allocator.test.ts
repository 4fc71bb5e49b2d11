import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ArgumentError } from '../../src/errors.js';
import { FirstFitAllocator } from '../../src/simulate/first-fit-allocator.js';

test('first fit takes the lowest region with room and merges freed neighbours', () => {
  const a = new FirstFitAllocator(10);
  assert.equal(a.allocate(4), 0);
  assert.equal(a.allocate(3), 4);
  assert.equal(a.allocate(2), 7);
  assert.equal(a.free, 1);
  a.release(0, 4);
  assert.equal(a.free, 5);
  assert.equal(a.largestFree, 4);
  // 5 units are free, but in pieces of 4 and 1: external fragmentation.
  assert.equal(a.allocate(5), -1);
  assert.equal(a.allocate(2), 0);
  a.release(4, 3); // joins [2, 4) on the left
  assert.equal(a.largestFree, 5);
  a.release(7, 2); // joins both sides: [2, 10)
  assert.equal(a.largestFree, 8);
  assert.equal(a.allocate(8), 2);
  assert.equal(a.free, 0);
  assert.throws(() => a.allocate(0), ArgumentError);
});

test('random allocations never overlap and free space always adds up', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 64 }),
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 20 }), fc.nat()), {
        maxLength: 60,
        size: 'max',
      }),
      (capacity, ops) => {
        const a = new FirstFitAllocator(capacity);
        const owner = new Int32Array(capacity).fill(-1);
        const live: [number, number][] = [];
        ops.forEach(([alloc, size, pick], id) => {
          if (alloc || live.length === 0) {
            const start = a.allocate(size);
            // First fit: the lowest start of `size` free units in a row, or -1 when none.
            let expected = -1;
            for (let s = 0, run = 0; s < capacity; s++) {
              run = owner[s] < 0 ? run + 1 : 0;
              if (run === size) {
                expected = s - size + 1;
                break;
              }
            }
            assert.equal(start, expected);
            if (start >= 0) {
              owner.fill(id, start, start + size);
              live.push([start, size]);
            }
          } else {
            const [start, sz] = live.splice(pick % live.length, 1)[0];
            a.release(start, sz);
            owner.fill(-1, start, start + sz);
          }
          const free = owner.filter((o) => o < 0).length;
          assert.equal(a.free, free);
          let largest = 0;
          for (let s = 0, run = 0; s < capacity; s++) {
            run = owner[s] < 0 ? run + 1 : 0;
            largest = Math.max(largest, run);
          }
          assert.equal(a.largestFree, largest);
        });
      },
    ),
    { numRuns: 300 },
  );
});
