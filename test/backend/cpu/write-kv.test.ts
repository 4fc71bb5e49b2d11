import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuBackend } from '../../../src/backend/cpu/index.js';
import { Random } from '../../../src/testing/random.js';
import { randomTensor } from '../../../src/testing/paged-layout.js';
import { Tensor } from '../../../src/tensor.js';
import { recordAccesses } from '../../../src/testing/access-recorder.js';
import { quantizeE4m3, quantizeFp8DsMla } from '../../../src/fp8/fp8-tensors.js';

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

test('writeKv quantizes into fp8_ds_mla: each slot gets its row token, nothing else is written', () => {
  const rng = new Random(33);
  const [numPages, pageSize] = [3, 4];
  const cache = Tensor.zeros([numPages, pageSize, 1, 656], 'float8_e4m3fn');
  (cache.data as Uint8Array).fill(0x5a);
  const rows = randomTensor(rng, [5, 1, 576], 'bfloat16');
  const slots = [6, -1, 0, 11, 3];
  const recorded = recordAccesses(cache);
  const fp8 = { cacheFormat: 'fp8_ds_mla' } as const;
  cpuBackend.writeKv(recorded.tensor, rows, Tensor.from(slots, [5], 'int32'), {}, fp8);
  const tokens = quantizeFp8DsMla(rows).data;
  assert.equal(recorded.writes.size, 4 * 656);
  for (let slot = 0; slot < numPages * pageSize; slot++) {
    const got = [...cache.data.subarray(slot * 656, (slot + 1) * 656)];
    const i = slots.indexOf(slot);
    const want = i < 0 ? new Array(656).fill(0x5a) : [...tokens.subarray(i * 656, i * 656 + 656)];
    assert.deepEqual(got, want, `slot ${slot}`);
  }
});

test('writeKv quantizes into fp8_e4m3 under the cache scale (float16 rows, two heads)', () => {
  const rng = new Random(34);
  const cache = Tensor.zeros([2, 16, 2, 64], 'float8_e4m3fn');
  const rows = randomTensor(rng, [3, 2, 64], 'float16');
  const descale = Math.fround(0.3 / 448);
  const slots = [31, 0, -1];
  const fp8 = { cacheFormat: 'fp8_e4m3', descale: Tensor.from([descale], [1], 'float32') } as const;
  cpuBackend.writeKv(cache, rows, Tensor.from(slots, [3], 'int32'), {}, fp8);
  const codes = quantizeE4m3(rows, descale).data;
  const rowLength = 2 * 64;
  assert.deepEqual(
    [...cache.data.subarray(31 * rowLength, 32 * rowLength)],
    [...codes.subarray(0, rowLength)],
  );
  assert.deepEqual(
    [...cache.data.subarray(0, rowLength)],
    [...codes.subarray(rowLength, 2 * rowLength)],
  );
  const written = new Set([...Array(rowLength).keys()].flatMap((c) => [c, 31 * rowLength + c]));
  assert.ok(
    cache.data.every((v, i) => written.has(i) || v === 0),
    'other slots untouched',
  );
});
