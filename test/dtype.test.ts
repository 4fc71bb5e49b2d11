/**
 * The narrow float conversions, checked against the formats' definitions over every bit pattern.
 *
 * Everything the tests compare against is derived here from the format's fields (sign, exponent,
 * mantissa, bias), never from src/dtype.ts, and rounding is re-derived as "nearest representable
 * value, ties to the even pattern" by searching the sorted list of representable values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  allocHostArray,
  decode,
  decodeArray,
  decodeTable,
  DTYPES,
  dtypeBytes,
  encode,
  encodeArray,
  isDType,
  roundTo,
  type DType,
  type NarrowFloatDType,
} from '../src/dtype.js';
import { ArgumentError } from '../src/errors.js';

// ---------------------------------------------------------------------------------------------
// The formats, from their definitions

interface FormatSpec {
  readonly dtype: NarrowFloatDType;
  readonly expBits: number;
  readonly manBits: number;
  /** IEEE-like: all-ones exponent is Inf (mantissa 0) or NaN. Otherwise (e4m3fn) only S.1111.111 is NaN. */
  readonly ieee: boolean;
  /** The NaN pattern the package promises to write. */
  readonly canonicalNaN: number;
}

const SPECS: readonly FormatSpec[] = [
  { dtype: 'bfloat16', expBits: 8, manBits: 7, ieee: true, canonicalNaN: 0x7fc0 },
  { dtype: 'float16', expBits: 5, manBits: 10, ieee: true, canonicalNaN: 0x7e00 },
  { dtype: 'float8_e4m3fn', expBits: 4, manBits: 3, ieee: false, canonicalNaN: 0x7f },
];

const patternCount = (s: FormatSpec): number => 2 ** (1 + s.expBits + s.manBits);
const signMask = (s: FormatSpec): number => 2 ** (s.expBits + s.manBits);
const biasOf = (s: FormatSpec): number => 2 ** (s.expBits - 1) - 1;

/** Route 1: float64 arithmetic on the fields, taken apart with division, not shifts. */
function referenceDecode(s: FormatSpec, bits: number): number {
  const manScale = 2 ** s.manBits;
  const expScale = 2 ** s.expBits;
  const mantissa = bits % manScale;
  const exponent = Math.floor(bits / manScale) % expScale;
  const sign = bits >= signMask(s) ? -1 : 1;
  const bias = biasOf(s);
  const allOnesExponent = exponent === expScale - 1;
  let magnitude: number;
  if (s.ieee && allOnesExponent) magnitude = mantissa === 0 ? Infinity : NaN;
  else if (!s.ieee && allOnesExponent && mantissa === manScale - 1) magnitude = NaN;
  else if (exponent === 0) magnitude = (mantissa / manScale) * 2 ** (1 - bias);
  else magnitude = (1 + mantissa / manScale) * 2 ** (exponent - bias);
  return sign * magnitude;
}

const scratch = new DataView(new ArrayBuffer(8));

/**
 * Route 2: build the float32 bit pattern of the same value with integer operations and let the
 * machine read it. bfloat16 is literally the upper half of a float32; float16 and e4m3fn are
 * widened field by field (their subnormals become float32 normals).
 */
function float32RouteDecode(s: FormatSpec, bits: number): number {
  if (s.dtype === 'bfloat16') {
    scratch.setUint16(0, bits); // big-endian: the high half of the float32
    scratch.setUint16(2, 0);
    return scratch.getFloat32(0);
  }
  const sign = (bits >>> (s.expBits + s.manBits)) & 1;
  const expField = (bits >>> s.manBits) & ((1 << s.expBits) - 1);
  let man = bits & ((1 << s.manBits) - 1);
  const allOnes = expField === (1 << s.expBits) - 1;
  let exp32: number;
  if (allOnes && (s.ieee || man === (1 << s.manBits) - 1)) {
    exp32 = 255;
    man = s.ieee ? man : 1; // keep Inf as Inf, any NaN stays a NaN
  } else if (expField === 0 && man === 0) {
    exp32 = 0;
  } else if (expField === 0) {
    let e = 1 - biasOf(s);
    while (man < 1 << s.manBits) {
      man <<= 1;
      e -= 1;
    }
    man -= 1 << s.manBits;
    exp32 = e + 127;
  } else {
    exp32 = expField - biasOf(s) + 127;
  }
  scratch.setUint32(0, ((sign << 31) | (exp32 << 23) | (man << (23 - s.manBits))) >>> 0);
  return scratch.getFloat32(0);
}

/** Positive representable values in pattern order, then one virtual value an ulp above the max. */
interface Ladder {
  readonly values: Float64Array;
  /** Pattern of the largest finite positive value; `maxBits + 1` is the virtual overflow step. */
  readonly maxBits: number;
}

const ladders = new Map<NarrowFloatDType, Ladder>();

function ladderOf(s: FormatSpec): Ladder {
  let ladder = ladders.get(s.dtype);
  if (ladder) return ladder;
  const finite: number[] = [];
  for (let b = 0; b < signMask(s); b++) {
    const v = referenceDecode(s, b);
    if (!Number.isFinite(v)) break;
    finite.push(v);
  }
  const maxBits = finite.length - 1;
  // Past the max the next step keeps the top binade's spacing: 2^(emax+1) for IEEE formats
  // (whose pattern is Inf), 480 for e4m3fn (whose pattern is the NaN).
  const top = finite[maxBits] + (finite[maxBits] - finite[maxBits - 1]);
  ladder = { values: Float64Array.from([...finite, top]), maxBits };
  ladders.set(s.dtype, ladder);
  return ladder;
}

/** The pattern a ladder index (of the given sign) encodes to, applying the overflow rule. */
function patternOfStep(s: FormatSpec, step: number, negative: boolean, saturate: boolean): number {
  const { maxBits } = ladderOf(s);
  const sign = negative ? signMask(s) : 0;
  if (step <= maxBits) return sign | step;
  if (saturate) return sign | maxBits;
  // IEEE: the step above max is the Inf pattern. e4m3fn: it is S.1111.111, NaN, sign kept
  // (as PyTorch's non-saturating cast writes it).
  return sign | (maxBits + 1);
}

/** Round to nearest, ties to the even pattern, by binary search over the representable values. */
function referenceEncode(s: FormatSpec, x: number, saturate = false): number {
  if (Number.isNaN(x)) return s.canonicalNaN;
  const negative = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  const { values, maxBits } = ladderOf(s);
  if (a >= values[maxBits + 1]) return patternOfStep(s, maxBits + 1, negative, saturate);
  let lo = 0;
  let hi = maxBits + 1; // values[lo] <= a < values[hi]
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (values[mid] <= a) lo = mid;
    else hi = mid;
  }
  // Both differences are exact: values[hi] <= 2 * values[lo] (Sterbenz), or values[lo] is 0.
  const below = a - values[lo];
  const above = values[hi] - a;
  const step = below < above ? lo : below > above ? hi : lo % 2 === 0 ? lo : hi;
  return patternOfStep(s, step, negative, saturate);
}

// ---------------------------------------------------------------------------------------------
// Small tools

/** A seeded 32-bit generator (mulberry32), so failures reproduce. */
function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function float64FromBits(hi: number, lo: number): number {
  scratch.setUint32(0, hi >>> 0);
  scratch.setUint32(4, lo >>> 0);
  return scratch.getFloat64(0);
}

/** The next float64 away from zero (for positive finite x). */
function nextUp(x: number): number {
  scratch.setFloat64(0, x);
  const lo = scratch.getUint32(4);
  const hi = scratch.getUint32(0) + (lo === 0xffffffff ? 1 : 0);
  return float64FromBits(hi, lo + 1);
}

/** The next float64 toward zero (for positive x). */
function nextDown(x: number): number {
  scratch.setFloat64(0, x);
  const lo = scratch.getUint32(4);
  const hi = scratch.getUint32(0) - (lo === 0 ? 1 : 0);
  return float64FromBits(hi, lo - 1);
}

/**
 * Random float64s over the format's whole range: uniform binade from 4 below the smallest
 * subnormal to 3 above the max, full 52-bit random mantissa, random sign; one in eight is
 * drawn from the entire float64 range instead.
 */
function randomDoubles(s: FormatSpec, count: number, seed: number): Float64Array {
  const next = rng(seed);
  const lowest = 1 - biasOf(s) - s.manBits - 4;
  const highest = Math.floor(Math.log2(ladderOf(s).values[ladderOf(s).maxBits])) + 3;
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const wide = next() % 8 === 0;
    const e = wide ? -1074 + (next() % 2098) : lowest + (next() % (highest - lowest + 1));
    const fraction = float64FromBits(0x3ff00000 | (next() & 0xfffff), next()); // in [1, 2)
    const sign = next() & 1 ? -1 : 1;
    out[i] = sign * fraction * 2 ** e;
  }
  return out;
}

const hex = (bits: number): string => '0x' + bits.toString(16);

/** Compares two numbers as values, telling -0 from +0 and accepting NaN == NaN. */
function assertSameNumber(actual: number, expected: number, what: string): void {
  if (!Object.is(actual, expected)) assert.fail(`${what}: got ${actual}, expected ${expected}`);
}

// ---------------------------------------------------------------------------------------------
// Decoding

for (const s of SPECS) {
  test(`${s.dtype}: decode of every bit pattern matches both derivations`, () => {
    const table = decodeTable(s.dtype);
    assert.equal(table.length, patternCount(s));
    for (let b = 0; b < patternCount(s); b++) {
      const expected = referenceDecode(s, b);
      assertSameNumber(float32RouteDecode(s, b), expected, `${s.dtype} route 2 of ${hex(b)}`);
      assertSameNumber(decode(s.dtype, b), expected, `decode(${s.dtype}, ${hex(b)})`);
      assertSameNumber(table[b], expected, `decodeTable(${s.dtype})[${hex(b)}]`);
    }
  });

  test(`${s.dtype}: encoding every decoded value gives its bits back`, () => {
    for (let b = 0; b < patternCount(s); b++) {
      const v = referenceDecode(s, b);
      for (const saturate of [false, true]) {
        const bits = encode(s.dtype, v, { saturate });
        let expected = b;
        if (Number.isNaN(v)) expected = s.canonicalNaN;
        else if (!Number.isFinite(v) && saturate)
          expected = (b & signMask(s)) | ladderOf(s).maxBits;
        assert.equal(bits, expected, `encode(${s.dtype}, ${v}, saturate ${saturate})`);
      }
    }
  });
}

test('well-known values of each format (torch.finfo and the format specifications)', () => {
  const cases: [NarrowFloatDType, number, number][] = [
    ['bfloat16', 0x3f80, 1],
    ['bfloat16', 0xc000, -2],
    ['bfloat16', 0x7f7f, 3.3895313892515355e38],
    ['bfloat16', 0x0080, 1.1754943508222875e-38],
    ['bfloat16', 0x0001, 2 ** -133],
    ['bfloat16', 0x3c00, 2 ** -7], // eps
    ['bfloat16', 0x7f80, Infinity],
    ['bfloat16', 0xff80, -Infinity],
    ['bfloat16', 0x8000, -0],
    ['float16', 0x3c00, 1],
    ['float16', 0x7bff, 65504],
    ['float16', 0x0400, 6.103515625e-5],
    ['float16', 0x0001, 2 ** -24],
    ['float16', 0x1400, 2 ** -10], // eps
    ['float16', 0x3555, 0.333251953125],
    ['float16', 0x7c00, Infinity],
    ['float16', 0xfc00, -Infinity],
    ['float8_e4m3fn', 0x38, 1],
    ['float8_e4m3fn', 0x7e, 448],
    ['float8_e4m3fn', 0xfe, -448],
    ['float8_e4m3fn', 0x78, 256], // all-ones exponent is still finite in e4m3fn
    ['float8_e4m3fn', 0x7d, 416],
    ['float8_e4m3fn', 0x08, 0.015625],
    ['float8_e4m3fn', 0x07, 0.013671875],
    ['float8_e4m3fn', 0x01, 0.001953125],
    ['float8_e4m3fn', 0x20, 0.125], // eps
    ['float8_e4m3fn', 0x80, -0],
  ];
  for (const [dtype, bits, value] of cases) {
    assertSameNumber(decode(dtype, bits), value, `decode(${dtype}, ${hex(bits)})`);
    assert.equal(encode(dtype, value), bits, `encode(${dtype}, ${value})`);
  }
  for (const [dtype, bits] of [
    ['bfloat16', 0x7fc0],
    ['bfloat16', 0xff81],
    ['float16', 0x7e00],
    ['float16', 0xfc01],
    ['float8_e4m3fn', 0x7f],
    ['float8_e4m3fn', 0xff],
  ] as const) {
    assert.ok(Number.isNaN(decode(dtype, bits)), `decode(${dtype}, ${hex(bits)}) is NaN`);
  }
  // e4m3fn has exactly two NaN patterns and no infinities.
  const table = decodeTable('float8_e4m3fn');
  assert.equal(table.filter(Number.isNaN).length, 2);
  assert.ok(table.every((v) => v !== Infinity && v !== -Infinity));
});

test('decode rejects patterns outside the format', () => {
  for (const [dtype, bits] of [
    ['float8_e4m3fn', 256],
    ['float16', 65536],
    ['bfloat16', -1],
    ['float16', 1.5],
  ] as const) {
    assert.throws(
      () => decode(dtype, bits),
      (e: unknown) =>
        e instanceof ArgumentError && e.argument === 'bits' && e.actual === String(bits),
    );
  }
});

// ---------------------------------------------------------------------------------------------
// Rounding

for (const s of SPECS) {
  test(`${s.dtype}: every gap between neighbours rounds to nearest, ties to even`, () => {
    const { values, maxBits } = ladderOf(s);
    for (let lo = 0; lo <= maxBits; lo++) {
      const hi = lo + 1;
      const gap = values[hi] - values[lo];
      const mid = values[lo] + gap / 2; // exact: a few more bits than the format has
      const probes: [number, number][] = [
        [mid, lo % 2 === 0 ? lo : hi],
        [nextUp(mid), hi],
        [nextDown(mid), lo],
        // Below a float32 ulp of mid: rounding through float32 first would make these ties.
        [mid + gap * 2 ** -30, hi],
        [mid - gap * 2 ** -30, lo],
        [mid + gap / 4, hi],
        [mid - gap / 4, lo],
      ];
      for (const [x, step] of probes) {
        for (const negative of [false, true]) {
          for (const saturate of [false, true]) {
            const input = negative ? -x : x;
            const expected = patternOfStep(s, step, negative, saturate);
            const bits = encode(s.dtype, input, { saturate });
            if (bits !== expected) {
              assert.fail(
                `encode(${s.dtype}, ${input}, saturate ${saturate}) = ${hex(bits)}, ` +
                  `expected ${hex(expected)} (between ${values[lo]} and ${values[hi]})`,
              );
            }
          }
        }
      }
    }
  });

  test(`${s.dtype}: random float64s over the whole range round like the reference`, () => {
    const xs = randomDoubles(s, 100_000, 0x5eed + s.manBits);
    for (const x of xs) {
      for (const saturate of [false, true]) {
        const expected = referenceEncode(s, x, saturate);
        const bits = encode(s.dtype, x, { saturate });
        if (bits !== expected) {
          assert.fail(
            `encode(${s.dtype}, ${x}, saturate ${saturate}) = ${hex(bits)}, expected ${hex(expected)}`,
          );
        }
      }
      assertSameNumber(
        roundTo(s.dtype, x),
        referenceDecode(s, referenceEncode(s, x)),
        `roundTo(${s.dtype}, ${x})`,
      );
    }
  });

  test(`${s.dtype}: any double (fast-check) rounds like the reference`, () => {
    fc.assert(
      fc.property(fc.double(), fc.boolean(), (x, saturate) => {
        assert.equal(encode(s.dtype, x, { saturate }), referenceEncode(s, x, saturate));
      }),
      { seed: 20240917, numRuns: 20_000 },
    );
  });
}

test('overflow: IEEE formats go to Inf from max + half an ulp (the tie included)', () => {
  const cases: [NarrowFloatDType, number, number, number][] = [
    // dtype, max, half an ulp at max, +Inf pattern
    ['float16', 65504, 16, 0x7c00],
    ['bfloat16', 3.3895313892515355e38, 2 ** 119, 0x7f80],
  ];
  for (const [dtype, max, halfUlp, inf] of cases) {
    const maxBits = inf - 1;
    const threshold = max + halfUlp;
    for (const [x, bits] of [
      [nextDown(threshold), maxBits],
      [threshold, inf],
      [nextUp(threshold), inf],
      [1e300, inf],
      [Number.MAX_VALUE, inf],
      [Infinity, inf],
    ]) {
      assert.equal(encode(dtype, x), bits, `encode(${dtype}, ${x})`);
      assert.equal(encode(dtype, -x), bits | 0x8000, `encode(${dtype}, ${-x})`);
      assert.equal(encode(dtype, x, { saturate: true }), maxBits, `saturated ${x}`);
      assert.equal(encode(dtype, -x, { saturate: true }), maxBits | 0x8000, `saturated ${-x}`);
    }
    assert.equal(roundTo(dtype, threshold), Infinity);
    assert.equal(roundTo(dtype, -threshold), -Infinity);
  }
});

test('overflow: float8_e4m3fn is NaN above 464, 448 at the tie, +-448 when saturating', () => {
  const cases: [number, number, number][] = [
    // x, bits, saturated bits
    [448, 0x7e, 0x7e],
    [460, 0x7e, 0x7e],
    [464, 0x7e, 0x7e], // tie between 448 (mantissa 110) and 480 (111): even wins
    [nextUp(464), 0x7f, 0x7e],
    [465, 0x7f, 0x7e],
    [480, 0x7f, 0x7e],
    [1e9, 0x7f, 0x7e],
    [Infinity, 0x7f, 0x7e],
  ];
  for (const [x, bits, saturated] of cases) {
    assert.equal(encode('float8_e4m3fn', x), bits, `encode(e4m3fn, ${x})`);
    assert.equal(encode('float8_e4m3fn', -x), bits | 0x80, `encode(e4m3fn, ${-x})`);
    assert.equal(encode('float8_e4m3fn', x, { saturate: true }), saturated, `saturated ${x}`);
    assert.equal(encode('float8_e4m3fn', -x, { saturate: true }), saturated | 0x80);
  }
  assert.ok(Number.isNaN(roundTo('float8_e4m3fn', 465)));
  assert.ok(Number.isNaN(roundTo('float8_e4m3fn', -Infinity)));
  assert.equal(roundTo('float8_e4m3fn', 464), 448);
  assert.equal(roundTo('float8_e4m3fn', -464), -448);
});

test('NaN encodes to the canonical quiet NaN, saturating or not', () => {
  for (const s of SPECS) {
    for (const saturate of [false, true]) {
      assert.equal(encode(s.dtype, NaN, { saturate }), s.canonicalNaN, s.dtype);
      assert.equal(encode(s.dtype, -NaN, { saturate }), s.canonicalNaN, s.dtype);
      assert.equal(encode(s.dtype, float64FromBits(0xfff00000, 1), { saturate }), s.canonicalNaN);
    }
    assert.ok(Number.isNaN(roundTo(s.dtype, NaN)));
  }
});

test('underflow gives a zero of the input sign; half the smallest subnormal is a tie to zero', () => {
  for (const s of SPECS) {
    const smallest = ladderOf(s).values[1];
    const negZero = signMask(s);
    for (const [x, bits] of [
      [0, 0],
      [-0, negZero],
      [Number.MIN_VALUE, 0],
      [-Number.MIN_VALUE, negZero],
      [smallest / 4, 0],
      [-smallest / 4, negZero],
      [smallest / 2, 0],
      [-smallest / 2, negZero],
      [nextUp(smallest / 2), 1],
      [-nextUp(smallest / 2), negZero | 1],
      [smallest * 1.5, 2], // tie between 1 and 2 subnormal steps: even wins
    ]) {
      assert.equal(encode(s.dtype, x), bits, `encode(${s.dtype}, ${x})`);
    }
    assertSameNumber(roundTo(s.dtype, -smallest / 3), -0, `roundTo(${s.dtype}, tiny negative)`);
  }
});

test('bfloat16 of float32-exact inputs rounds the float32 bits (round to nearest even)', () => {
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7; 1 + 3 * 2^-8 halfway between 1 + 2^-7 and 1 + 2^-6.
  assert.equal(encode('bfloat16', 1 + 2 ** -8), 0x3f80);
  assert.equal(encode('bfloat16', 1 + 3 * 2 ** -8), 0x3f82);
  assert.equal(encode('bfloat16', 1 + 2 ** -8 + 2 ** -23), 0x3f81);
  // The same tie plus less than a float32 ulp must still round up (no rounding through float32).
  assert.equal(encode('bfloat16', 1 + 2 ** -8 + 2 ** -40), 0x3f81);
});

// ---------------------------------------------------------------------------------------------
// Arrays, sizes and allocation

/** Random values of a format's scale, with the special values mixed in. */
function mixedValues(count: number, seed: number): Float64Array {
  const next = rng(seed);
  const out = new Float64Array(count);
  const specials = [0, -0, NaN, Infinity, -Infinity, 1e-45, -70000, 500, 1e40];
  for (let i = 0; i < count; i++) {
    out[i] =
      i < specials.length ? specials[i] : ((next() / 2 ** 32) * 2 - 1) * 2 ** ((next() % 40) - 20);
  }
  return out;
}

test('encodeArray and decodeArray agree with encode and decode element by element', () => {
  const values = mixedValues(2000, 7);
  for (const s of SPECS) {
    for (const saturate of [false, true]) {
      const encoded = encodeArray(s.dtype, values, undefined, { saturate });
      assert.ok(encoded instanceof (s.expBits + s.manBits === 7 ? Uint8Array : Uint16Array));
      assert.equal(encoded.length, values.length);
      for (let i = 0; i < values.length; i++) {
        assert.equal(encoded[i], referenceEncode(s, values[i], saturate), `${s.dtype}[${i}]`);
      }
      const decoded = decodeArray(s.dtype, encoded);
      assert.ok(decoded instanceof Float32Array);
      for (let i = 0; i < values.length; i++) {
        assertSameNumber(decoded[i], referenceDecode(s, encoded[i]), `${s.dtype} decoded[${i}]`);
        if (!saturate) assertSameNumber(decoded[i], roundTo(s.dtype, values[i]), `roundTo ${i}`);
      }
    }
  }
});

test('encodeArray and decodeArray fill and return the given destination', () => {
  const values = mixedValues(64, 11);
  const dst = new Uint16Array(80).fill(0xabcd);
  assert.equal(encodeArray('float16', values, dst), dst);
  for (let i = 0; i < values.length; i++) assert.equal(dst[i], encode('float16', values[i]));
  assert.equal(dst[values.length], 0xabcd, 'elements past the source are left alone');
  const out = new Float32Array(80).fill(7);
  assert.equal(decodeArray('float16', dst.subarray(0, 64), out), out);
  for (let i = 0; i < 64; i++) assertSameNumber(out[i], decode('float16', dst[i]), `out[${i}]`);
  assert.equal(out[64], 7);
});

test('float32 and int32 arrays store as their typed arrays do', () => {
  const values = mixedValues(500, 13);
  const f32 = encodeArray('float32', values);
  assert.ok(f32 instanceof Float32Array);
  for (let i = 0; i < values.length; i++) {
    assertSameNumber(f32[i], Math.fround(values[i]), `float32[${i}]`);
    assertSameNumber(roundTo('float32', values[i]), Math.fround(values[i]), `roundTo ${i}`);
  }
  assert.deepEqual(decodeArray('float32', f32), f32);
  // Saturation applies to float32 too.
  const saturated = encodeArray('float32', [1e39, -Infinity, NaN, 2], undefined, {
    saturate: true,
  });
  const f32Max = 3.4028234663852886e38;
  assert.deepEqual(Array.from(saturated), [f32Max, -f32Max, NaN, 2]);

  const ints = [3, -3, 2.9, -2.9, 0.5, 2 ** 31 - 1, -(2 ** 31), 123456789];
  const i32 = encodeArray('int32', ints);
  assert.ok(i32 instanceof Int32Array);
  // Like a float-to-int cast in C or PyTorch: truncation toward zero.
  assert.deepEqual(Array.from(i32), [3, -3, 2, -2, 0, 2 ** 31 - 1, -(2 ** 31), 123456789]);
  assert.deepEqual(
    ints.map((x) => roundTo('int32', x)),
    Array.from(i32),
  );
  assert.deepEqual(Array.from(decodeArray('int32', i32)), Array.from(i32).map(Math.fround));
});

test('encodeArray and decodeArray reject a destination or source of the wrong kind', () => {
  const isArgumentError = (argument: string) => (e: unknown) =>
    e instanceof ArgumentError && e.argument === argument;
  assert.throws(
    () => encodeArray('bfloat16', [1, 2, 3], new Uint16Array(2)),
    (e: unknown) => isArgumentError('dst')(e) && /3/.test((e as ArgumentError).expected),
  );
  assert.throws(() => encodeArray('bfloat16', [1], new Uint8Array(1)), isArgumentError('dst'));
  assert.throws(() => encodeArray('float32', [1], new Float32Array(0)), isArgumentError('dst'));
  assert.throws(() => decodeArray('float16', new Uint8Array(4)), isArgumentError('src'));
  assert.throws(
    () => decodeArray('float32', new Float32Array(4), new Float32Array(3)),
    isArgumentError('dst'),
  );
  assert.throws(() => encodeArray('float64' as DType, [1]), isArgumentError('dtype'));
  assert.throws(() => encode('float32' as NarrowFloatDType, 1), isArgumentError('dtype'));
});

test('dtypeBytes, allocHostArray and isDType describe every dtype', () => {
  const expected: Record<DType, [number, Function]> = {
    float32: [4, Float32Array],
    bfloat16: [2, Uint16Array],
    float16: [2, Uint16Array],
    float8_e4m3fn: [1, Uint8Array],
    int32: [4, Int32Array],
  };
  assert.deepEqual([...DTYPES].sort(), Object.keys(expected).sort());
  for (const dtype of DTYPES) {
    const [bytes, kind] = expected[dtype];
    assert.equal(dtypeBytes(dtype), bytes);
    const a = allocHostArray(dtype, 37);
    assert.equal(a.constructor, kind);
    assert.equal(a.length, 37);
    assert.equal(a.BYTES_PER_ELEMENT, bytes);
    assert.ok(a.every((v) => v === 0));
    assert.ok(isDType(dtype));
  }
  for (const other of ['float64', 'bf16', '', 3, null, undefined])
    assert.equal(isDType(other), false);
  assert.throws(
    () => allocHostArray('float32', -1),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'length',
  );
  assert.throws(
    () => dtypeBytes('int8' as DType),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'dtype',
  );
});
