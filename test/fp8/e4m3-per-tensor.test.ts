// fp8_e4m3 with one scale per tensor: code = e4m3_rne(float32(x / descale)), saturating to +-448,
// NaN kept; value = float32(e4m3(code) * descale).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from '../../src/dtype.js';
import { ArgumentError } from '../../src/errors.js';
import { Tensor } from '../../src/tensor.js';
import { e4m3Code, scaledE4m3Table } from '../../src/fp8/e4m3-per-tensor.js';
import { dequantizeE4m3, quantizeE4m3 } from '../../src/fp8/fp8-tensors.js';
import { Random } from '../../src/testing/random.js';
import { randomTensor } from '../../src/testing/paged-layout.js';

test('codes: x / descale rounded to nearest even, saturating at +-448, NaN kept', () => {
  const d = 0.5;
  assert.equal(e4m3Code(1, d), 0x40); // 2 = 0.1000.000
  assert.equal(e4m3Code(-0, d), 0x80);
  assert.equal(e4m3Code(0.53125, d), 0x38); // 1.0625: the tie goes to even, 1
  assert.equal(e4m3Code(0.59375, d), 0x3a); // 1.1875: the tie goes to even, 1.25
  assert.equal(e4m3Code(224, d), 0x7e); // 448 exactly
  assert.equal(e4m3Code(300, d), 0x7e, '600 saturates to 448 (not NaN)');
  assert.equal(e4m3Code(-1e30, d), 0xfe);
  assert.equal(e4m3Code(Infinity, d), 0x7e);
  assert.equal(e4m3Code(-Infinity, d), 0xfe);
  assert.equal(e4m3Code(NaN, d), 0x7f);
  assert.equal(e4m3Code(2 ** -10, d), 0x01, 'the smallest subnormal, 2^-9');
});

test('the quotient is rounded to float32 first, as the kernels divide', () => {
  // Find x = float32(1.0625 * d) whose exact quotient lies just above the e4m3 tie 1.0625 but
  // whose float32 quotient is the tie itself: to even (1) through float32, 1.125 directly.
  const rng = new Random(71);
  let found = 0;
  for (let i = 0; i < 20000 && found < 3; i++) {
    const d = Math.fround(0.01 + rng.uniform());
    const x = Math.fround(1.0625 * d);
    if (!(x - 1.0625 * d > 0) || Math.fround(x / d) !== 1.0625) continue;
    assert.equal(encode('float8_e4m3fn', x / d), 0x39, 'rounded from the exact quotient');
    assert.equal(e4m3Code(x, d), 0x38, 'rounded from the float32 quotient');
    found++;
  }
  assert.equal(found, 3, 'such quotients exist');
});

test('dequantization: every code times descale, in float32', () => {
  const d = Math.fround(0.0137);
  const table = scaledE4m3Table(d);
  for (let code = 0; code < 256; code++) {
    const want = Math.fround(decode('float8_e4m3fn', code) * d);
    assert.ok(Object.is(table[code], want) || (Number.isNaN(want) && Number.isNaN(table[code])));
  }
  const codes = new Tensor('float8_e4m3fn', [2, 2], Uint8Array.from([0x40, 0xc0, 0x7f, 0x7e]));
  const back = dequantizeE4m3(codes, d).toFloat32();
  assert.deepEqual([...back], [2 * d, -2 * d, NaN, Math.fround(448 * d)]);
});

test('round trip: within half an e4m3 step under the scale; beyond 448 * descale, saturated', () => {
  const rng = new Random(72);
  const values = randomTensor(rng, [8, 128], 'bfloat16');
  const x = values.toFloat32();
  const d = Math.fround(0.2 / 448); // |x| above 0.2 (two standard deviations) saturates
  const back = dequantizeE4m3(quantizeE4m3(values, d), d).toFloat32();
  let saturated = 0;
  for (let i = 0; i < x.length; i++) {
    if (Math.abs(x[i]) > 448 * d) {
      assert.equal(back[i], Math.sign(x[i]) * Math.fround(448 * d));
      saturated++;
      continue;
    }
    // e4m3's 2^-4 relative (2^-10 * d absolute below its normals), then two float32 roundings.
    const bound = Math.max(2 ** -4 * Math.abs(x[i]), 2 ** -10 * d) + 2 ** -22 * Math.abs(x[i]);
    assert.ok(Math.abs(back[i] - x[i]) <= bound, `value ${i}: ${x[i]} -> ${back[i]}`);
  }
  assert.ok(saturated > 0 && saturated < x.length / 10, `${saturated} saturated`);
  assert.equal(quantizeE4m3(values, d).dtype, 'float8_e4m3fn');
  assert.deepEqual(quantizeE4m3(values, d).shape, [8, 128]);
});

test('descale is taken as a float32 and must be finite and > 0 there', () => {
  const values = Tensor.from([1, -2, 3], [3], 'float32');
  assert.deepEqual(quantizeE4m3(values, 0.1).data, quantizeE4m3(values, Math.fround(0.1)).data);
  const isDescale = (e: unknown) => e instanceof ArgumentError && e.argument === 'descale';
  for (const bad of [0, -1, NaN, Infinity, 1e-50, 1e39, '1', undefined]) {
    assert.throws(() => quantizeE4m3(values, bad as number), isDescale, String(bad));
    const codes = Tensor.zeros([3], 'float8_e4m3fn');
    assert.throws(() => dequantizeE4m3(codes, bad as number), isDescale, String(bad));
  }
  assert.throws(
    () => quantizeE4m3(Tensor.zeros([3], 'int32'), 1),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'values',
  );
  assert.throws(
    () => dequantizeE4m3(values, 1),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'codes',
  );
});
