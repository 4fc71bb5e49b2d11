import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuBackend } from '../../../src/backend/cpu/index.js';
import { Random } from '../../../src/testing/random.js';
import { randomTensor } from '../../../src/testing/paged-layout.js';
import { Tensor } from '../../../src/tensor.js';
import { recordAccesses } from '../../../src/testing/access-recorder.js';

test('writeKv stores each row at its slot and skips -1', () => {
  const rng = new Random(31);
  const [numPages, pageSize, hKv, d] = [5, 4, 2, 8];
  const cache = randomTensor(rng, [numPages, pageSize, hKv, d], 'bfloat16');
  const before = Uint16Array.from(cache.data as Uint16Array);
  const rows = randomTensor(rng, [6, hKv, d], 'bfloat16');
  const slots = [7, -1, 0, 19, -1, 12];
  writeAndCheck(cache, rows, slots, before);
});

test('writeKv works with page size 1 and float16', () => {
  const rng = new Random(32);
  const cache = randomTensor(rng, [9, 1, 1, 64], 'float16');
  const before = Uint16Array.from(cache.data as Uint16Array);
  const rows = randomTensor(rng, [4, 1, 64], 'float16');
  writeAndCheck(cache, rows, [8, 0, -1, 3], before);
});

function writeAndCheck(cache: Tensor, rows: Tensor, slots: number[], before: Uint16Array): void {
  const [, pageSize, hKv, d] = cache.shape;
  const recorded = recordAccesses(cache);
  cpuBackend.writeKv(recorded.tensor, rows, Tensor.from(slots, [slots.length], 'int32'));
  const rowLength = hKv * d;
  // Exactly the elements of the mapped slots were written, nothing else (no stray index either).
  const expectedWrites = slots
    .filter((slot) => slot >= 0)
    .flatMap((slot) => Array.from({ length: rowLength }, (_, c) => slot * rowLength + c));
  assert.deepEqual(
    [...recorded.writes].sort((a, b) => a - b),
    expectedWrites.sort((a, b) => a - b),
  );
  const written = new Map<number, number>();
  slots.forEach((slot, i) => slot >= 0 && written.set(slot, i));
  for (let slot = 0; slot < cache.shape[0] * pageSize; slot++) {
    const got = cache.data.subarray(slot * rowLength, (slot + 1) * rowLength);
    const i = written.get(slot);
    const want =
      i === undefined
        ? before.subarray(slot * rowLength, (slot + 1) * rowLength)
        : rows.data.subarray(i * rowLength, (i + 1) * rowLength);
    assert.deepEqual([...got], [...want], `slot ${slot}`);
  }
}
