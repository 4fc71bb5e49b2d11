/** Comparing computed outputs with a reference. */
import { Tensor } from '../tensor.js';

export interface Comparison {
  /** max_i |a_i - b_i|; equal values (infinities included) count 0, NaN anywhere gives NaN. */
  readonly maxAbsError: number;
  /** ||a - b|| / ||b|| over the elements, 0 when both are all zero. */
  readonly relativeError: number;
}

function valuesOf(x: Tensor | ArrayLike<number>): ArrayLike<number> {
  return x instanceof Tensor ? x.toFloat32() : x;
}

/** Compares `actual` with `expected` (the reference), element by element in row-major order. */
export function compareOutputs(
  actual: Tensor | ArrayLike<number>,
  expected: Tensor | ArrayLike<number>,
): Comparison {
  const a = valuesOf(actual);
  const b = valuesOf(expected);
  if (a.length !== b.length) {
    throw new Error(`compareOutputs: ${a.length} values against ${b.length}`);
  }
  let maxAbsError = 0;
  let sawNaN = false;
  let diff2 = 0;
  let ref2 = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] === b[i] ? 0 : Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) sawNaN = true;
    else if (d > maxAbsError) maxAbsError = d;
    diff2 += d * d;
    ref2 += b[i] * b[i];
  }
  if (sawNaN) return { maxAbsError: NaN, relativeError: NaN };
  const relativeError = diff2 === 0 ? 0 : Math.sqrt(diff2) / Math.sqrt(ref2);
  return { maxAbsError, relativeError };
}

/** Distance between neighbouring values of a float format with `mantissaBits` at magnitude |x|. */
export function ulpAt(x: number, mantissaBits: number, minExponent: number): number {
  const a = Math.abs(x);
  const e = a === 0 ? minExponent : Math.max(Math.floor(Math.log2(a)), minExponent);
  return 2 ** (e - mantissaBits);
}

/** Mantissa bits and smallest normal exponent of the output formats. */
export const FORMAT_BITS = {
  bfloat16: { mantissaBits: 7, minExponent: -126 },
  float16: { mantissaBits: 10, minExponent: -14 },
} as const;

/**
 * The largest error of `actual` against `expected` in units of the format's spacing at the
 * expected value, where magnitudes below `floor` count as `floor` (near zero, absolute errors of
 * the float32 accumulation dwarf the format's tiny spacing).
 */
export function maxUlpError(
  actual: Tensor | ArrayLike<number>,
  expected: Tensor | ArrayLike<number>,
  format: keyof typeof FORMAT_BITS,
  floor: number,
): number {
  const a = valuesOf(actual);
  const b = valuesOf(expected);
  const { mantissaBits, minExponent } = FORMAT_BITS[format];
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const err = a[i] === b[i] ? 0 : Math.abs(a[i] - b[i]);
    const ulps = err / ulpAt(Math.max(Math.abs(b[i]), floor), mantissaBits, minExponent);
    if (Number.isNaN(ulps)) return NaN;
    if (ulps > worst) worst = ulps;
  }
  return worst;
}

/** max_i |a_i - b_i| / |b_i|, where equal values (both +Infinity, say) count 0; NaN gives NaN. */
export function maxRelativeError(
  actual: Tensor | ArrayLike<number>,
  expected: Tensor | ArrayLike<number>,
): number {
  const a = valuesOf(actual);
  const b = valuesOf(expected);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const err = Math.abs(a[i] - b[i]) / Math.abs(b[i]);
    if (Number.isNaN(err)) return NaN;
    if (err > worst) worst = err;
  }
  return worst;
}

/** How a decode result differs from the float64 reference. */
export interface DecodeErrors {
  /** ||out - ref|| / ||ref||. */
  readonly outRelativeError: number;
  /**
   * Worst element error of out in units of the output format's spacing, at magnitudes of at
   * least max|ref| / 64 (below that the float32 accumulation's absolute error dominates).
   */
  readonly outUlps: number;
  /** Worst relative error of lse (+Infinity rows must match exactly). */
  readonly lseRelativeError: number;
}

export function decodeErrors(
  result: { readonly out: Tensor; readonly lse: Tensor },
  reference: { readonly out: ArrayLike<number>; readonly lse: ArrayLike<number> },
): DecodeErrors {
  let maxAbs = 0;
  for (let i = 0; i < reference.out.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(reference.out[i]));
  }
  const format = result.out.dtype === 'float16' ? 'float16' : 'bfloat16';
  return {
    outRelativeError: compareOutputs(result.out, reference.out).relativeError,
    outUlps: maxUlpError(result.out, reference.out, format, maxAbs / 64),
    lseRelativeError: maxRelativeError(result.lse, reference.lse),
  };
}
