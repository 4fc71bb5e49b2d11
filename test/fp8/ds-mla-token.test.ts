// The fp8_ds_mla token, byte for byte as docs/fp8-kv-cache.md lays it out, and its quantization
// rule: power-of-two scales 2^ceil(log2(max(amax / 448, 1e-4))), e4m3 round to nearest even.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from '../../src/dtype.js';
import { ArgumentError } from '../../src/errors.js';
import { Tensor } from '../../src/tensor.js';
import {
  DS_MLA_GROUP_SIZE,
  DS_MLA_ROPE_OFFSET,
  DS_MLA_SCALES_OFFSET,
  DS_MLA_TOKEN_BYTES,
  dsMlaScale,
} from '../../src/fp8/ds-mla-token.js';
import { dequantizeFp8DsMla, quantizeFp8DsMla } from '../../src/fp8/fp8-tensors.js';
import { Random } from '../../src/testing/random.js';
import { randomTensor } from '../../src/testing/paged-layout.js';

/** A float32 row of 576 values, zero but for `set`. */
function row(set: Record<number, number>): Tensor {
  const values = new Float32Array(576);
  for (const [i, v] of Object.entries(set)) values[Number(i)] = v;
  return Tensor.from(values, [576], 'float32');
}

/** The float32 at byte `offset` of a token, little-endian. */
function scaleAt(token: Uint8Array, group: number): number {
  const o = DS_MLA_SCALES_OFFSET + 4 * group;
  return new DataView(token.buffer, token.byteOffset + o, 4).getFloat32(0, true);
}

test('the layout: 512 latent bytes, 4 float32 scales at 512, 64 bf16 rope values at 528', () => {
  assert.equal(DS_MLA_TOKEN_BYTES, 656);
  assert.equal(DS_MLA_SCALES_OFFSET, 512);
  assert.equal(DS_MLA_ROPE_OFFSET, 528);
  assert.equal(DS_MLA_GROUP_SIZE, 128);
});

test('a hand-built token gives exactly the bytes the rule says', () => {
  const x = row({
    // Group 0: amax 1, 1 / 448 = 2^-8.8, scale 2^-8. 1 -> 256 = 2^8 (0.1111.000), -0.5 -> -128,
    // 0.28125 -> 72 = 1.001b * 2^6 (0.1101.001), -0 keeps its sign.
    0: 1,
    1: -0.5,
    2: 0.28125,
    127: -0,
    // Group 1: all zero: amax / 448 = 0 is floored at 1e-4, scale 2^ceil(-13.29) = 2^-13.
    // Group 2: amax 1.75 = 448 * 2^-8 exactly, so scale 2^-8 and 1.75 -> 448 (0.1111.110).
    256: 1.75,
    257: 0.25 / 256, // 0.25 = 2^-2 (0.0101.000)
    258: 3 * 2 ** -17, // 3 * 2^-9 after scaling: the subnormal 0.0000.011
    259: 1.0625 / 256, // halfway between 1 and 1.125: to even, 1 (0.0111.000)
    260: 1.1875 / 256, // halfway between 1.125 and 1.25: to even, 1.25 (0.0111.010)
    // Group 3: amax 1.765625, just above 448 * 2^-8: scale 2^-7; 226 -> 224 (0.1110.110),
    // -1e-3 -> -0.128 -> -0.125 (1.0100.000).
    384: 1.765625,
    385: -1e-3,
    // Rope: bf16, round to nearest even. 1 + 2^-8 is a tie (to 1), 1 + 3 * 2^-8 one to 1 + 2^-6.
    512: 1.5,
    513: -2,
    514: 1 + 2 ** -8,
    515: 1 + 3 * 2 ** -8,
    575: 0.1,
  });
  const token = quantizeFp8DsMla(x).data as Uint8Array;
  const expected = new Uint8Array(656);
  expected.set([0x78, 0xf0, 0x69], 0);
  expected[127] = 0x80;
  expected.set([0x7e, 0x28, 0x03, 0x38, 0x3a], 256);
  expected.set([0x76, 0xa0], 384);
  // Scales 2^-8 (0x3b800000), 2^-13 (0x39000000), 2^-8, 2^-7 (0x3c000000), little-endian.
  expected.set([0, 0, 0x80, 0x3b, 0, 0, 0, 0x39, 0, 0, 0x80, 0x3b, 0, 0, 0, 0x3c], 512);
  // Rope: 1.5 = 0x3fc0, -2 = 0xc000, 1 = 0x3f80, 1 + 2^-6 = 0x3f82, bf16(0.1) = 0x3dcd.
  expected.set([0xc0, 0x3f, 0x00, 0xc0, 0x80, 0x3f, 0x82, 0x3f], 528);
  expected.set([0xcd, 0x3d], 654);
  assert.deepEqual([...token], [...expected]);

  // And back: codes times scales, the rope values as stored.
  const back = dequantizeFp8DsMla(new Tensor('float8_e4m3fn', [656], token)).toFloat32();
  const want = new Float32Array(576);
  Object.assign(want, { 0: 1, 1: -0.5, 2: 0.28125, 127: -0 });
  Object.assign(want, { 256: 1.75, 257: 0.25 / 256, 258: 3 * 2 ** -17, 259: 1 / 256 });
  Object.assign(want, { 260: 1.25 / 256, 384: 1.75, 385: -0.125 / 128 });
  Object.assign(want, {
    512: 1.5,
    513: -2,
    514: 1,
    515: 1 + 2 ** -6,
    575: decode('bfloat16', 0x3dcd),
  });
  assert.deepEqual(back, want);
  assert.ok(Object.is(back[127], -0));
});

test('scales are the least power of two with amax / scale <= 448, floored at 2^-13', () => {
  assert.equal(dsMlaScale(0), 2 ** -13);
  assert.equal(dsMlaScale(448 * 2 ** -13), 2 ** -13);
  assert.equal(dsMlaScale(448), 1);
  for (let k = -12; k <= 100; k += 7) {
    const exact = 448 * 2 ** k;
    assert.equal(dsMlaScale(exact), 2 ** k, `amax 448 * 2^${k}`);
    assert.equal(dsMlaScale(Math.fround(exact * (1 + 2 ** -20))), 2 ** (k + 1));
    assert.equal(dsMlaScale(Math.fround(exact * (1 - 2 ** -20))), 2 ** k);
  }
  // Every positive finite bfloat16 amax: a power of two, amax / scale <= 448, and half of it is not.
  const floor = Math.fround(1e-4);
  for (let bits = 1; bits < 0x7f80; bits++) {
    const amax = decode('bfloat16', bits);
    const scale = dsMlaScale(amax);
    assert.equal(2 ** Math.round(Math.log2(scale)), scale);
    assert.ok(amax / scale <= 448, `amax ${amax}: scale ${scale}`);
    const y = Math.max(Math.fround(amax / 448), floor);
    assert.ok(scale / 2 < y, `amax ${amax}: scale ${scale} is not the least`);
  }
});

test('round trip: each latent value within half an e4m3 step of its scaled value', () => {
  const rng = new Random(61);
  const rows = randomTensor(rng, [40, 576], 'bfloat16');
  // A few values 100x the rest in some groups (the outliers docs/fp8-kv-cache.md asks about).
  const values = rows.toFloat32();
  for (let r = 0; r < 40; r += 3) values[r * 576 + rng.int(0, 512)] *= 100;
  const data = Tensor.from(values, [40, 576], 'bfloat16');
  const x = data.toFloat32();
  const tokens = quantizeFp8DsMla(data);
  const back = dequantizeFp8DsMla(tokens).toFloat32();
  const bytes = tokens.data as Uint8Array;
  for (let r = 0; r < 40; r++) {
    const token = bytes.subarray(r * 656, (r + 1) * 656);
    for (let i = 0; i < 576; i++) {
      const xi = x[r * 576 + i];
      const err = Math.abs(back[r * 576 + i] - xi);
      if (i >= 512) {
        assert.equal(err, 0, 'rope values are stored as they are');
        continue;
      }
      // 3 mantissa bits: relative error <= 2^-4; below e4m3's normals (2^-6), steps of 2^-9.
      const scale = scaleAt(token, Math.floor(i / 128));
      assert.ok(err <= Math.max(2 ** -4 * Math.abs(xi), 2 ** -10 * scale), `row ${r}, value ${i}`);
      assert.notEqual(token[i] & 0x7f, 0x7f, 'finite inputs never saturate to NaN');
    }
  }
});

test('NaN or infinity poisons its own group only: scale NaN, codes 0x7f; rope keeps NaN', () => {
  const x = row({ 0: 0.5, 5: NaN, 200: 3, 300: Infinity, 400: -Infinity, 520: NaN });
  const token = quantizeFp8DsMla(x).data as Uint8Array;
  for (const g of [0, 2, 3]) {
    assert.ok(Number.isNaN(scaleAt(token, g)), `group ${g} scale`);
    assert.deepEqual([...token.subarray(g * 128, g * 128 + 128)], new Array(128).fill(0x7f));
  }
  // The canonical quiet NaN, 0x7fc00000, little-endian.
  assert.deepEqual([...token.subarray(512, 516)], [0, 0, 0xc0, 0x7f]);
  assert.equal(scaleAt(token, 1), 2 ** -7, 'group 1 (amax 3) as usual');
  assert.equal(token[200], encode('float8_e4m3fn', 3 / 2 ** -7));
  assert.deepEqual([...token.subarray(528 + 16, 528 + 18)], [0xc0, 0x7f], 'rope value 8');
  const back = dequantizeFp8DsMla(new Tensor('float8_e4m3fn', [656], token)).toFloat32();
  assert.ok(back.subarray(0, 128).every(Number.isNaN));
  assert.equal(back[200], 3);
  assert.ok(Number.isNaN(back[520]) && back[521] === 0);
});

test('float16 and float32 sources round their rope values to bfloat16, nearest even', () => {
  const values = new Float32Array(576);
  values.set([1 + 2 ** -10, 1 + 2 ** -8 + 2 ** -10, -(1 + 3 * 2 ** -8), 65504], 512);
  for (const dtype of ['float16', 'float32'] as const) {
    const back = dequantizeFp8DsMla(quantizeFp8DsMla(Tensor.from(values, [576], dtype)));
    assert.deepEqual(
      [...back.toFloat32().subarray(512, 516)],
      [1, 1 + 2 ** -7, -(1 + 2 ** -6), 65536],
    );
  }
});

test('any leading shape and strides: the tokens of a view equal those of its dense copy', () => {
  const rng = new Random(62);
  const rows = randomTensor(rng, [2, 3, 1, 576], 'bfloat16');
  const tokens = quantizeFp8DsMla(rows);
  assert.deepEqual(tokens.shape, [2, 3, 1, 656]);
  assert.equal(tokens.dtype, 'float8_e4m3fn');
  // The same rows read through strides that skip a padding row between them.
  const padded = new Uint16Array(6 * 600);
  for (let r = 0; r < 6; r++)
    padded.set((rows.data as Uint16Array).subarray(r * 576, r * 576 + 576), r * 600);
  const view = new Tensor('bfloat16', [2, 3, 1, 576], padded, [1800, 600, 600, 1]);
  assert.deepEqual(quantizeFp8DsMla(view).data, tokens.data);
  assert.deepEqual(dequantizeFp8DsMla(tokens).shape, [2, 3, 1, 576]);
});

test('wrong arguments are an ArgumentError naming them', () => {
  const isArg = (argument: string) => (e: unknown) =>
    e instanceof ArgumentError && e.argument === argument;
  assert.throws(() => quantizeFp8DsMla([1, 2] as never), isArg('rows'));
  assert.throws(() => quantizeFp8DsMla(Tensor.zeros([2, 512], 'bfloat16')), isArg('rows.shape'));
  assert.throws(() => quantizeFp8DsMla(Tensor.zeros([576], 'int32')), isArg('rows'));
  assert.throws(() => quantizeFp8DsMla(Tensor.zeros([], 'float32')), isArg('rows.shape'));
  assert.throws(() => dequantizeFp8DsMla(Tensor.zeros([656], 'bfloat16')), isArg('tokens'));
  assert.throws(
    () => dequantizeFp8DsMla(Tensor.zeros([576], 'float8_e4m3fn')),
    isArg('tokens.shape'),
  );
});
