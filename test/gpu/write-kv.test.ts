// writeKv on the GPU: every mapped slot gets its row bit for bit, -1 skips, nothing else changes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writeKv } from '../../src/attention/write-kv.js';
import { Tensor } from '../../src/tensor.js';
import { Random } from '../../src/testing/random.js';
import { randomTensor } from '../../src/testing/paged-layout.js';
import { DeviceScope, skipWithoutGpu } from './gpu.js';

const CASES = [
  { numPages: 40, pageSize: 64, hKv: 1, d: 576, n: 300, dtype: 'bfloat16' },
  { numPages: 300, pageSize: 1, hKv: 8, d: 128, n: 257, dtype: 'float16' },
  { numPages: 50, pageSize: 16, hKv: 2, d: 64, n: 33, dtype: 'bfloat16' },
  { numPages: 10, pageSize: 16, hKv: 1, d: 256, n: 1, dtype: 'bfloat16' },
] as const;

CASES.forEach((c, i) => {
  test(`writeKv case ${i}: ${JSON.stringify(c)}`, { skip: skipWithoutGpu }, () => {
    const rng = new Random(300 + i);
    using scope = new DeviceScope();
    const cache = randomTensor(rng, [c.numPages, c.pageSize, c.hKv, c.d], c.dtype);
    const rows = randomTensor(rng, [c.n, c.hKv, c.d], c.dtype);
    const slots = rng.shuffle([...Array(c.numPages * c.pageSize).keys()]).slice(0, c.n);
    for (let k = 4; k < c.n; k += 5) slots[k] = -1;
    const slotMapping = Tensor.from(slots, [c.n], 'int32');

    const expected = new Tensor(cache.dtype, cache.shape, cache.data.slice());
    writeKv(expected, rows, slotMapping);
    const onDevice = scope.upload(cache);
    writeKv(onDevice, scope.upload(rows), scope.upload(slotMapping), { checkContents: true });
    assert.deepEqual(onDevice.toHost().data, expected.data);
    assert.notDeepEqual(expected.data, cache.data, 'the case writes something');
  });
});
