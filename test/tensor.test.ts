/** Host tensors: construction, element access, strided views, copies and argument checks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DTYPES,
  encodeArray,
  MAX_HOST_ELEMENTS,
  roundTo,
  type DType,
  type HostArray,
} from '../src/dtype.js';
import { ArgumentError } from '../src/errors.js';
import { contiguousStrides, isContiguous, numelOf, Tensor } from '../src/tensor.js';

/** Seeded values in (-4, 4), never zero, so a dropped or misplaced element shows. */
function randomValues(count: number, seed: number): Float64Array {
  let state = seed >>> 0;
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const v = (state / 2 ** 32) * 8 - 4;
    out[i] = Math.abs(v) < 0.01 ? 0.5 : v;
  }
  return out;
}

/** What storing `x` as `dtype` and reading it back as float32 gives. */
const stored = (dtype: DType, x: number): number => Math.fround(roundTo(dtype, x));

function assertArgumentError(fn: () => unknown, argument: string, actual?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ArgumentError, `expected an ArgumentError, got ${e}`);
    assert.equal(e.argument, argument);
    assert.ok(e.expected.length > 0);
    if (actual) assert.match(e.actual, actual);
    assert.ok(e.message.startsWith(`${argument}: expected `));
    return true;
  });
}

test('Tensor.from rounds row-major values to the dtype; get and toFloat32 read them back', () => {
  const shape = [3, 4, 5];
  const randoms = randomValues(60, 1);
  for (const dtype of DTYPES) {
    // int32 tensors take integers only.
    const values = dtype === 'int32' ? randoms.map(Math.trunc) : randoms;
    const t = Tensor.from(values, shape, dtype);
    assert.equal(t.dtype, dtype);
    assert.equal(t.location, 'host');
    assert.deepEqual(t.shape, shape);
    assert.deepEqual(t.strides, [20, 5, 1]);
    assert.equal(t.numel, 60);
    assert.deepEqual(t.data, encodeArray(dtype, values));
    const floats = t.toFloat32();
    assert.ok(floats instanceof Float32Array);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 4; j++) {
        for (let k = 0; k < 5; k++) {
          const flat = i * 20 + j * 5 + k;
          const expected = roundTo(dtype, values[flat]);
          assert.equal(t.get(i, j, k), expected, `${dtype} [${i},${j},${k}]`);
          assert.equal(floats[flat], stored(dtype, values[flat]), `${dtype} toFloat32[${flat}]`);
        }
      }
    }
  }
});

test('Tensor.from passes the saturate option through to the encoding', () => {
  const loud = Tensor.from([1000, -1000, 3], [3], 'float8_e4m3fn', { saturate: true });
  assert.deepEqual(Array.from(loud.toFloat32()), [448, -448, 3]);
  const wild = Tensor.from([1000, -1000, 3], [3], 'float8_e4m3fn');
  assert.deepEqual(Array.from(wild.toFloat32()), [NaN, NaN, 3]);
});

test('Tensor.zeros allocates zeroed storage of the dtype, scalars and empty shapes included', () => {
  const arrays: Record<DType, Function> = {
    float32: Float32Array,
    bfloat16: Uint16Array,
    float16: Uint16Array,
    float8_e4m3fn: Uint8Array,
    int32: Int32Array,
  };
  for (const dtype of DTYPES) {
    const t = Tensor.zeros([2, 3, 7], dtype);
    assert.equal(t.data.constructor, arrays[dtype]);
    assert.equal(t.data.length, 42);
    assert.ok(t.data.every((v) => v === 0));
    assert.deepEqual(t.strides, [21, 7, 1]);
    assert.equal(t.get(1, 2, 6), 0);
  }
  const scalar = Tensor.zeros([], 'float16');
  assert.equal(scalar.numel, 1);
  assert.equal(scalar.get(), 0);
  const empty = Tensor.zeros([4, 0, 2], 'bfloat16');
  assert.equal(empty.numel, 0);
  assert.equal(empty.toFloat32().length, 0);
  assert.equal(empty.reshape([0, 8]).numel, 0);
});

test('a transposed view reads through its strides; contiguous and reshape copy it row-major', () => {
  const rows = 5;
  const cols = 7;
  const randoms = randomValues(rows * cols, 2);
  for (const dtype of DTYPES) {
    const values = dtype === 'int32' ? randoms.map(Math.trunc) : randoms;
    const base = Tensor.from(values, [rows, cols], dtype);
    const t = new Tensor(dtype, [cols, rows], base.data, [1, cols]);
    assert.equal(isContiguous(t), false);
    const copy = t.contiguous();
    assert.notEqual(copy, t);
    assert.ok(isContiguous(copy));
    assert.deepEqual(copy.strides, [rows, 1]);
    assert.equal(copy.data.length, rows * cols);
    const floats = t.toFloat32();
    const flattened = t.reshape([rows * cols]);
    assert.notEqual(flattened.data, base.data, 'a transposed view cannot share storage');
    for (let i = 0; i < cols; i++) {
      for (let j = 0; j < rows; j++) {
        assert.equal(t.offsetOf(i, j), i + j * cols);
        assert.equal(t.get(i, j), base.get(j, i), `${dtype} [${i},${j}]`);
        assert.equal(copy.data[i * rows + j], base.data[j * cols + i]);
        assert.equal(floats[i * rows + j], stored(dtype, values[j * cols + i]));
        assert.equal(flattened.get(i * rows + j), base.get(j, i));
      }
    }
  }
});

test('a padded, permuted 3-d view skips the padding', () => {
  // Storage [2][3][6] of which only the first 4 of each innermost row are the tensor [2, 3, 4];
  // the view is that tensor permuted to [4, 2, 3]. Padding holds NaN so a leak shows.
  const [a, b, c, pad] = [2, 3, 4, 6];
  const values = randomValues(a * b * pad, 3);
  const data = encodeArray('bfloat16', values) as Uint16Array;
  for (let n = 0; n < a * b; n++) data.fill(0x7fc0, n * pad + c, n * pad + pad);
  const view = new Tensor('bfloat16', [c, a, b], data, [1, b * pad, pad]);
  const floats = view.toFloat32();
  let flat = 0;
  for (let k = 0; k < c; k++) {
    for (let i = 0; i < a; i++) {
      for (let j = 0; j < b; j++) {
        const source = i * b * pad + j * pad + k;
        assert.equal(view.offsetOf(k, i, j), source);
        assert.equal(view.get(k, i, j), roundTo('bfloat16', values[source]));
        assert.equal(floats[flat++], stored('bfloat16', values[source]));
      }
    }
  }
  assert.ok(!floats.some(Number.isNaN));
  // A prefix index gives the offset of the sub-tensor's first element.
  assert.equal(view.offsetOf(3), 3);
  assert.equal(view.offsetOf(2, 1), 2 + b * pad);
  assert.equal(view.offsetOf(), 0);
});

test('a zero stride repeats one element (a broadcast view)', () => {
  const row = Tensor.from(randomValues(5, 4), [5], 'float16');
  const repeated = new Tensor('float16', [3, 5], row.data, [0, 1]);
  const floats = repeated.toFloat32();
  const once = row.toFloat32();
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 5; j++) {
      assert.equal(repeated.get(i, j), row.get(j));
      assert.equal(floats[i * 5 + j], once[j]);
    }
  }
});

test('contiguous and reshape share storage when the tensor is already row-major', () => {
  const t = Tensor.from(randomValues(24, 5), [2, 3, 4], 'float8_e4m3fn');
  assert.equal(t.contiguous(), t);
  const r = t.reshape([6, 4]);
  assert.equal(r.data, t.data);
  assert.deepEqual(r.shape, [6, 4]);
  assert.deepEqual(r.strides, [4, 1]);
  assert.equal(r.get(5, 3), t.get(1, 2, 3));
  // Size-1 dimensions may carry any stride and still count as row-major.
  const odd = new Tensor('float32', [2, 1, 3], new Float32Array(randomValues(6, 6)), [3, 99, 1]);
  assert.ok(isContiguous(odd));
  assert.equal(odd.contiguous(), odd);
  // Row-major but over a longer buffer: the copy is exactly sized.
  const long = new Tensor('int32', [2, 2], Int32Array.from([1, 2, 3, 4, 5, 6]));
  const exact = long.contiguous();
  assert.notEqual(exact, long);
  assert.deepEqual(Array.from(exact.data), [1, 2, 3, 4]);
});

test('numelOf and contiguousStrides', () => {
  assert.equal(numelOf([3, 4, 5]), 60);
  assert.equal(numelOf([]), 1);
  assert.equal(numelOf([7, 0]), 0);
  assert.deepEqual(contiguousStrides([3, 4, 5]), [20, 5, 1]);
  assert.deepEqual(contiguousStrides([]), []);
});

test('bad arguments throw an ArgumentError naming the argument, expected and actual', () => {
  const values = randomValues(12, 7);
  assertArgumentError(
    () => Tensor.from(values.subarray(0, 11), [3, 4], 'float16'),
    'values.length',
    /^11$/,
  );
  assertArgumentError(() => Tensor.from(values, [3, -4], 'float16'), 'shape[1]', /-4/);
  assertArgumentError(() => Tensor.from(values, [3, 4], 'float64' as DType), 'dtype', /float64/);
  assertArgumentError(() => Tensor.zeros([2.5], 'float32'), 'shape[0]', /2\.5/);
  assertArgumentError(() => Tensor.zeros([2], 'fp8' as DType), 'dtype', /fp8/);
  assertArgumentError(
    () => new Tensor('bfloat16', [3, 4], new Float32Array(12)),
    'data',
    /Float32Array/,
  );
  assertArgumentError(
    () => new Tensor('float8_e4m3fn', [2], [1, 2] as unknown as HostArray),
    'data',
    /Array/,
  );
  assertArgumentError(
    () => new Tensor('float16', [3, 4], new Uint16Array(11)),
    'data.length',
    /11/,
  );
  // A transposed [4, 3] view of 12 elements needs offset 3 * 1 + 2 * 4 = 11, so 11 elements is short.
  assertArgumentError(
    () => new Tensor('float16', [4, 3], new Uint16Array(11), [1, 4]),
    'data.length',
    /11/,
  );
  assertArgumentError(() => new Tensor('int32', [3, 4], new Int32Array(12), [4]), 'strides', /1/);
  assertArgumentError(
    () => new Tensor('int32', [3, 4], new Int32Array(12), [-4, 1]),
    'strides[0]',
    /-4/,
  );

  const t = Tensor.from(values, [3, 4], 'bfloat16');
  assertArgumentError(() => t.reshape([5, 2]), 'shape', /10/);
  assertArgumentError(() => t.reshape([-3, -4]), 'shape[0]', /-3/);
  assertArgumentError(() => t.get(1), 'index', /1/);
  assertArgumentError(() => t.get(1, 2, 0), 'index', /3/);
  assertArgumentError(() => t.get(3, 0), 'index[0]', /3/);
  assertArgumentError(() => t.get(0, -1), 'index[1]', /-1/);
  assertArgumentError(() => t.offsetOf(0, 1.5), 'index[1]', /1\.5/);
  assertArgumentError(() => t.offsetOf(0, 0, 0), 'index', /3/);
});

test('shapes past what a typed array holds are an ArgumentError naming the shape and the limit', () => {
  assert.throws(
    () => Tensor.zeros([2 ** 40], 'float32'),
    (e: unknown) =>
      e instanceof ArgumentError &&
      e.argument === 'shape' &&
      e.expected.includes(String(MAX_HOST_ELEMENTS)) &&
      e.actual.includes(String(2 ** 40)),
  );
  assertArgumentError(
    () => Tensor.zeros([2 ** 20, 2 ** 20], 'int32'),
    'shape',
    /\[1048576, 1048576\]/,
  );
  assertArgumentError(() => Tensor.zeros(5 as unknown as number[], 'int32'), 'shape', /^5$/);
  assertArgumentError(() => Tensor.zeros(['8'] as unknown as number[], 'int32'), 'shape[0]', /"8"/);
});

test('Tensor.from rejects values that are not numbers, and int32 values it cannot store', () => {
  const strings = [1, '2', 3] as unknown as number[];
  for (const dtype of DTYPES) {
    assertArgumentError(() => Tensor.from(strings, [3], dtype), 'values[1]', /^"2" \(string\)$/);
    assertArgumentError(
      () => Tensor.from([undefined] as never, [1], dtype),
      'values[0]',
      /undefined/,
    );
    assertArgumentError(() => Tensor.from(null as never, [0], dtype), 'values', /null/);
  }
  assertArgumentError(() => Tensor.from([2 ** 31], [1], 'int32'), 'values[0]', /2147483648/);
  assertArgumentError(() => Tensor.from([0, -(2 ** 31) - 1], [2], 'int32'), 'values[1]');
  assertArgumentError(() => Tensor.from([1.5], [1], 'int32'), 'values[0]', /1\.5/);
  assertArgumentError(() => Tensor.from([NaN], [1], 'int32'), 'values[0]', /NaN/);
  assertArgumentError(() => Tensor.from(new Float32Array([0.5]), [1], 'int32'), 'values[0]');
  assert.deepEqual(
    [...Tensor.from([2 ** 31 - 1, -(2 ** 31)], [2], 'int32').data],
    [2 ** 31 - 1, -(2 ** 31)],
  );
  // NaN and infinities are float values: kept in every float dtype.
  for (const dtype of ['float32', 'bfloat16', 'float16'] as const) {
    const t = Tensor.from([NaN, Infinity, -Infinity], [3], dtype);
    assert.deepEqual([...t.toFloat32()], [NaN, Infinity, -Infinity], dtype);
  }
});
