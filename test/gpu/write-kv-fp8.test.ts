// writeKv into FP8 caches on the GPU (docs/fp8-kv-cache.md): the bytes equal the CPU reference's,
// bit for bit, for both formats at pages of 1, 16 and 64, from bfloat16 and float16 rows, with the
// values that exercise every rule: outliers, zeros (the scale floor), the largest finite values,
// NaN and infinities (fp8_ds_mla: the group's scale and codes become NaN; fp8_e4m3: saturation),
// values past +-448 * descale, and skipped slots.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writeKv } from '../../src/attention/write-kv.js';
import type { DType } from '../../src/dtype.js';
import { Tensor } from '../../src/tensor.js';
import { Random } from '../../src/testing/random.js';
import { DeviceScope, skipWithoutGpu } from './gpu.js';

type RowDType = Extract<DType, 'bfloat16' | 'float16'>;

/** n rows of hKv x d values: clamp(randn / 10), then the special values of row k % 8. */
function rowsWithSpecials(rng: Random, n: number, hKv: number, d: number, dtype: RowDType) {
  const big = dtype === 'bfloat16' ? 3e38 : 65504;
  const values = new Float32Array(n * hKv * d);
  for (let i = 0; i < values.length; i++) values[i] = Math.max(-1, Math.min(1, rng.normal() / 10));
  for (let k = 0; k < n; k++) {
    const row = values.subarray(k * hKv * d, (k + 1) * hKv * d);
    const at = () => rng.int(0, row.length);
    switch (k % 8) {
      case 1: // outliers: one value in 128 a hundred times the rest
        for (let i = 0; i < row.length; i += 128)
          row[i + rng.int(0, Math.min(128, row.length - i))] *= 100;
        break;
      case 2: // all zeros
        row.fill(0);
        break;
      case 3: // the largest finite values of the row dtype
        row[at()] = big;
        row[at()] = -big;
        break;
      case 4: // NaN
        row[at()] = NaN;
        break;
      case 5: // infinities
        row[at()] = Infinity;
        row[at()] = -Infinity;
        break;
      case 6: // tiny values: subnormal in e4m3 after scaling
        for (let i = 0; i < row.length; i++) row[i] *= 1e-3;
        break;
      default:
        break;
    }
  }
  return Tensor.from(values, [n, hKv, d], dtype);
}

/** A cache of random bytes (so that untouched bytes are visible) and slots with some skipped. */
function cacheAndSlots(rng: Random, shape: number[], n: number) {
  const cache = Tensor.zeros(shape, 'float8_e4m3fn');
  for (let i = 0; i < cache.data.length; i++) cache.data[i] = rng.int(0, 256);
  const slots = rng.shuffle([...Array(shape[0] * shape[1]).keys()]).slice(0, n);
  for (let k = 7; k < n; k += 9) slots[k] = -1;
  return { cache, slotMapping: Tensor.from(slots, [n], 'int32') };
}

function checkAgainstCpu(
  scope: DeviceScope,
  cache: Tensor,
  rows: Tensor,
  slotMapping: Tensor,
  options: { isFp8Kvcache?: boolean; descale?: Tensor },
): void {
  const expected = new Tensor(cache.dtype, cache.shape, cache.data.slice());
  writeKv(expected, rows, slotMapping, options);
  assert.notDeepEqual(expected.data, cache.data, 'the case writes something');
  const onDevice = scope.upload(cache);
  const deviceOptions = options.descale
    ? { descale: scope.upload(options.descale) }
    : { isFp8Kvcache: true };
  writeKv(onDevice, scope.upload(rows), scope.upload(slotMapping), deviceOptions);
  const got = onDevice.toHost().data;
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== expected.data[i]) {
      assert.fail(
        `byte ${i} (token ${Math.floor(i / cache.shape[3])}): GPU ${got[i]}, CPU ${expected.data[i]}`,
      );
    }
  }
}

const DS_MLA_CASES = [
  { numPages: 40, pageSize: 64, n: 300, dtype: 'bfloat16' },
  { numPages: 70, pageSize: 16, n: 257, dtype: 'float16' },
  { numPages: 500, pageSize: 1, n: 130, dtype: 'bfloat16' },
  { numPages: 8, pageSize: 16, n: 1, dtype: 'float16' },
] as const;

DS_MLA_CASES.forEach((c, i) => {
  test(`writeKv into fp8_ds_mla, case ${i}: ${JSON.stringify(c)}`, { skip: skipWithoutGpu }, () => {
    const rng = new Random(700 + i);
    using scope = new DeviceScope();
    const { cache, slotMapping } = cacheAndSlots(rng, [c.numPages, c.pageSize, 1, 656], c.n);
    const rows = rowsWithSpecials(rng, c.n, 1, 576, c.dtype);
    checkAgainstCpu(scope, cache, rows, slotMapping, { isFp8Kvcache: true });
  });
});

const E4M3_CASES = [
  { numPages: 40, pageSize: 64, hKv: 1, d: 576, n: 300, dtype: 'bfloat16', descale: 0.004 },
  { numPages: 300, pageSize: 1, hKv: 8, d: 128, n: 257, dtype: 'float16', descale: 1 / 448 },
  { numPages: 50, pageSize: 16, hKv: 2, d: 64, n: 33, dtype: 'bfloat16', descale: 0.0002 },
  { numPages: 10, pageSize: 16, hKv: 4, d: 256, n: 40, dtype: 'float16', descale: 3.5 },
  // d not a multiple of 4: one value at a time
  { numPages: 12, pageSize: 16, hKv: 3, d: 66, n: 50, dtype: 'bfloat16', descale: 0.01 },
] as const;

E4M3_CASES.forEach((c, i) => {
  test(`writeKv into fp8_e4m3, case ${i}: ${JSON.stringify(c)}`, { skip: skipWithoutGpu }, () => {
    const rng = new Random(800 + i);
    using scope = new DeviceScope();
    const { cache, slotMapping } = cacheAndSlots(rng, [c.numPages, c.pageSize, c.hKv, c.d], c.n);
    const rows = rowsWithSpecials(rng, c.n, c.hKv, c.d, c.dtype);
    const descale = Tensor.from([c.descale], [1], 'float32');
    checkAgainstCpu(scope, cache, rows, slotMapping, { descale });
  });
});
