/**
 * Element types and exact conversions between JavaScript numbers and the narrow float formats.
 *
 * Encoding rounds to nearest, ties to even, directly from the float64 value (no double rounding
 * through float32). Narrow floats are stored as their raw bit patterns (Uint16Array / Uint8Array).
 */

import { checkIntegerIn } from './check-integer.js';
import { checkNumbers } from './check-values.js';
import { describeValue } from './describe-value.js';
import { ArgumentError } from './errors.js';

export type DType = 'float32' | 'bfloat16' | 'float16' | 'float8_e4m3fn' | 'int32';

export const DTYPES: readonly DType[] = [
  'float32',
  'bfloat16',
  'float16',
  'float8_e4m3fn',
  'int32',
];

/** The narrow float formats, stored as bit patterns. */
export type NarrowFloatDType = 'bfloat16' | 'float16' | 'float8_e4m3fn';

export type HostArray = Float32Array | Int32Array | Uint16Array | Uint8Array;

/** Bytes per element. */
export function dtypeBytes(dtype: DType): number {
  checkDType(dtype);
  switch (dtype) {
    case 'float32':
    case 'int32':
      return 4;
    case 'bfloat16':
    case 'float16':
      return 2;
    case 'float8_e4m3fn':
      return 1;
  }
}

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}

/** Throws unless `dtype` is one of DTYPES (callers from plain JavaScript may pass anything). */
function checkDType(dtype: unknown, argument = 'dtype'): asserts dtype is DType {
  if (!isDType(dtype))
    throw new ArgumentError(argument, `one of ${DTYPES.join(', ')}`, describeValue(dtype));
}

/** The most elements a typed array, and so a host tensor, can hold (V8's limit in Node 20). */
export const MAX_HOST_ELEMENTS = 2 ** 32;

/** A zero-filled typed array of `length` elements in which `dtype` is stored on the host. */
export function allocHostArray(dtype: DType, length: number): HostArray {
  checkDType(dtype);
  checkIntegerIn(length, 'length', 0, MAX_HOST_ELEMENTS, 'MAX_HOST_ELEMENTS');
  try {
    return newHostArray(dtype, length);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    // Within the limit but more than this process can allocate.
    const bytes = length * dtypeBytes(dtype);
    throw new ArgumentError('length', 'a size the host can allocate', `${bytes} bytes`);
  }
}

function newHostArray(dtype: DType, length: number): HostArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'bfloat16':
    case 'float16':
      return new Uint16Array(length);
    case 'float8_e4m3fn':
      return new Uint8Array(length);
  }
}

interface FloatFormat {
  readonly expBits: number;
  readonly manBits: number;
  readonly bias: number;
  /** Largest unbiased exponent of a finite value. */
  readonly maxExp: number;
  readonly maxFinite: number;
  /** Bit pattern of +infinity, or undefined where the format has none (e4m3fn). */
  readonly infBits: number | undefined;
  /**
   * The canonical (positive, quiet) NaN written for NaN inputs. e4m3fn overflow writes it with the
   * input's sign (0xff below -464), as PyTorch's non-saturating cast does.
   */
  readonly nanBits: number;
}

function format(
  expBits: number,
  manBits: number,
  hasInf: boolean,
  nanBits: number,
  maxFinite: number,
): FloatFormat {
  const bias = (1 << (expBits - 1)) - 1;
  return {
    expBits,
    manBits,
    bias,
    maxExp: Math.floor(Math.log2(maxFinite)),
    maxFinite,
    infBits: hasInf ? ((1 << expBits) - 1) << manBits : undefined,
    nanBits,
  };
}

const FORMATS: Record<NarrowFloatDType, FloatFormat> = {
  bfloat16: format(8, 7, true, 0x7fc0, (2 - 2 ** -7) * 2 ** 127),
  float16: format(5, 10, true, 0x7e00, 65504),
  // OCP float8 e4m3fn: no infinities, only S.1111.111 is NaN, so the largest finite is 1.110b * 2^8.
  float8_e4m3fn: format(4, 3, false, 0x7f, 448),
};

export interface EncodeOptions {
  /**
   * Values beyond the largest finite value (and infinities) become +-max instead of +-inf
   * (or NaN for float8_e4m3fn, which has no infinity). Default false, as IEEE and PyTorch do.
   */
  saturate?: boolean;
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function encodeWithFormat(x: number, fmt: FloatFormat, saturate: boolean): number {
  if (Number.isNaN(x)) return fmt.nanBits;
  const signBit = x < 0 || Object.is(x, -0) ? 1 << (fmt.expBits + fmt.manBits) : 0;
  const a = Math.abs(x);
  if (a === 0) return signBit;
  const overflow = (): number =>
    signBit |
    (saturate ? encodeWithFormat(fmt.maxFinite, fmt, false) : (fmt.infBits ?? fmt.nanBits));
  if (a === Infinity) return overflow();
  const minExp = 1 - fmt.bias;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  else if (2 ** (e + 1) <= a) e += 1;
  if (e < minExp) e = minExp;
  let m = roundHalfEven(a / 2 ** (e - fmt.manBits)); // exact: division by a power of two
  const hidden = 2 ** fmt.manBits;
  if (m === 2 * hidden) {
    m = hidden;
    e += 1;
  }
  if (e > fmt.maxExp || m * 2 ** (e - fmt.manBits) > fmt.maxFinite) return overflow();
  if (m < hidden) return signBit | m; // subnormal (or zero after rounding)
  return signBit | ((e + fmt.bias) << fmt.manBits) | (m - hidden);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function formatOf(dtype: NarrowFloatDType): FloatFormat {
  if (!Object.hasOwn(FORMATS, dtype)) {
    throw new ArgumentError(
      'dtype',
      `one of ${Object.keys(FORMATS).join(', ')}`,
      describeValue(dtype),
    );
  }
  return FORMATS[dtype];
}

/** The `saturate` flag of encode options, checked. */
function saturateOption(options: unknown): boolean {
  if (typeof options !== 'object' || options === null) {
    throw new ArgumentError('options', 'an object { saturate?: boolean }', describeValue(options));
  }
  const saturate = (options as EncodeOptions).saturate;
  if (saturate !== undefined && typeof saturate !== 'boolean') {
    throw new ArgumentError('options.saturate', 'a boolean', describeValue(saturate));
  }
  return saturate ?? false;
}

/** Encodes one number as the bit pattern of `dtype`, rounding to nearest even. */
export function encode(dtype: NarrowFloatDType, x: number, options?: EncodeOptions): number {
  if (typeof x !== 'number') throw new ArgumentError('x', 'a number', describeValue(x));
  const saturate = options === undefined ? false : saturateOption(options);
  if (dtype === 'bfloat16' && !saturate && Math.fround(x) === x) {
    // Fast path: x is exactly a float32, so rounding its bits is a single, exact rounding.
    f32[0] = x;
    const u = u32[0];
    return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return encodeWithFormat(x, formatOf(dtype), saturate);
}

function decodeWithFormat(bits: number, fmt: FloatFormat): number {
  const sign = bits >> (fmt.expBits + fmt.manBits) ? -1 : 1;
  const expField = (bits >> fmt.manBits) & ((1 << fmt.expBits) - 1);
  const man = bits & ((1 << fmt.manBits) - 1);
  const magnitude = bits & ~(1 << (fmt.expBits + fmt.manBits));
  if (fmt.infBits !== undefined && expField === (1 << fmt.expBits) - 1) {
    return man === 0 ? sign * Infinity : NaN;
  }
  if (fmt.infBits === undefined && magnitude === fmt.nanBits) return NaN;
  if (expField === 0) return sign * man * 2 ** (1 - fmt.bias - fmt.manBits);
  return sign * (1 + man / 2 ** fmt.manBits) * 2 ** (expField - fmt.bias);
}

const decodeTables = new Map<NarrowFloatDType, Float32Array>();

/** Every bit pattern of `dtype` decoded, indexed by the pattern. */
export function decodeTable(dtype: NarrowFloatDType): Float32Array {
  let table = decodeTables.get(dtype);
  if (!table) {
    const fmt = formatOf(dtype);
    table = new Float32Array(1 << (1 + fmt.expBits + fmt.manBits));
    for (let b = 0; b < table.length; b++) table[b] = decodeWithFormat(b, fmt);
    decodeTables.set(dtype, table);
  }
  return table;
}

/** Decodes one bit pattern of `dtype` to its exact value. */
export function decode(dtype: NarrowFloatDType, bits: number): number {
  const value = decodeTable(dtype)[bits];
  if (value === undefined) {
    const count = decodeTable(dtype).length;
    throw new ArgumentError(
      'bits',
      `an integer in [0, ${count}) for ${dtype}`,
      describeValue(bits),
    );
  }
  return value;
}

/**
 * x as an int32 store keeps it: truncated toward zero, like a cast in C or PyTorch. Values the cast
 * would wrap (outside the int32 range, or NaN) are refused rather than silently changed.
 */
function int32Of(x: number, argument: string, index?: number): number {
  const t = Math.trunc(x);
  if (!(t >= -(2 ** 31) && t <= 2 ** 31 - 1)) {
    throw new ArgumentError(
      index === undefined ? argument : `${argument}[${index}]`,
      'a number in the int32 range (truncated toward zero)',
      describeValue(x),
    );
  }
  return t | 0;
}

/**
 * Rounds `x` to the nearest value representable in `dtype`, ties to even: what storing `x` as
 * `dtype` and reading it back gives. int32 is the exception: storage truncates toward zero, as a C
 * or PyTorch float-to-int cast does, and so does this; values a cast would wrap are refused.
 */
export function roundTo(dtype: DType, x: number): number {
  if (typeof x !== 'number') throw new ArgumentError('x', 'a number', describeValue(x));
  if (dtype === 'float32') return Math.fround(x);
  if (dtype === 'int32') return int32Of(x, 'x');
  return decode(dtype, encode(dtype, x));
}

const FLOAT32_MAX = (2 - 2 ** -23) * 2 ** 127;

/** Throws unless `array` is the typed array `dtype` is stored in and holds `length` elements. */
function checkHostArray(argument: string, array: HostArray, dtype: DType, length: number): void {
  const expected = allocHostArray(dtype, 0).constructor;
  if (typeof array !== 'object' || array === null || array.constructor !== expected) {
    throw new ArgumentError(
      argument,
      `a ${expected.name} for dtype ${dtype}`,
      array.constructor.name,
    );
  }
  if (array.length < length) {
    throw new ArgumentError(argument, `at least ${length} elements`, `${array.length}`);
  }
}

/**
 * Encodes `src` (numbers only) into a new (or the given) host array of `dtype`. int32 casts as
 * roundTo does; Tensor.from is the strict way in (integers in int32 range only).
 */
export function encodeArray(
  dtype: DType,
  src: ArrayLike<number>,
  dst?: HostArray,
  options?: EncodeOptions,
): HostArray {
  checkDType(dtype);
  checkNumbers(src, 'src');
  const saturate = options === undefined ? false : saturateOption(options);
  if (dst === undefined) dst = allocHostArray(dtype, src.length);
  else checkHostArray('dst', dst, dtype, src.length);
  if (dtype === 'int32') {
    for (let i = 0; i < src.length; i++) dst[i] = int32Of(src[i], 'src', i);
  } else if (dtype === 'float32') {
    for (let i = 0; i < src.length; i++) dst[i] = src[i];
    if (saturate) {
      for (let i = 0; i < src.length; i++) {
        if (Math.abs(dst[i]) === Infinity) dst[i] = Math.sign(dst[i]) * FLOAT32_MAX;
      }
    }
  } else {
    for (let i = 0; i < src.length; i++) dst[i] = encode(dtype, src[i], { saturate });
  }
  return dst;
}

/** Decodes a host array of `dtype` into float32 values. */
export function decodeArray(dtype: DType, src: HostArray, dst?: Float32Array): Float32Array {
  checkDType(dtype);
  checkHostArray('src', src, dtype, 0);
  dst ??= new Float32Array(src.length);
  if (!(dst instanceof Float32Array) || dst.length < src.length) {
    throw new ArgumentError(
      'dst',
      `a Float32Array of at least ${src.length} elements`,
      describe(dst),
    );
  }
  if (dtype === 'float32' || dtype === 'int32') {
    for (let i = 0; i < src.length; i++) dst[i] = src[i];
    return dst;
  }
  const table = decodeTable(dtype);
  for (let i = 0; i < src.length; i++) dst[i] = table[src[i]];
  return dst;
}

function describe(array: unknown): string {
  const a = array as { constructor?: { name?: string }; length?: number } | null | undefined;
  return a == null ? String(a) : `a ${a.constructor?.name} of ${a.length} elements`;
}
