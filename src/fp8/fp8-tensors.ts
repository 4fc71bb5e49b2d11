/**
 * The two FP8 cache formats over whole host tensors: quantize bf16 / fp16 / float32 rows into
 * either, dequantize either into float32. Any leading shape; the last dimension is the row.
 */
import { describeValue } from '../describe-value.js';
import { allocHostArray, type DType } from '../dtype.js';
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { FP8_CACHE_DTYPE, type QuantizableDType } from './cache-formats.js';
import {
  DS_MLA_HEAD_DIM,
  DS_MLA_TOKEN_BYTES,
  dequantizeDsMlaToken,
  quantizeDsMlaToken,
} from './ds-mla-token.js';
import { e4m3Code, scaledE4m3Table } from './e4m3-per-tensor.js';

const QUANTIZABLE: readonly DType[] = ['bfloat16', 'float16', 'float32'];

/** `t` is a host Tensor of one of `dtypes` whose last dimension (if `rowLength`) is `rowLength`. */
function checkInput(
  t: unknown,
  name: string,
  dtypes: readonly DType[],
  rowLength?: number,
): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new ArgumentError(name, 'a host Tensor', describeValue(t));
  if (!dtypes.includes(t.dtype)) {
    throw new ArgumentError(name, `dtype ${dtypes.join(' or ')}`, `dtype ${t.dtype}`);
  }
  if (rowLength === undefined) return;
  const last = t.shape.length - 1;
  if (last < 0 || t.shape[last] !== rowLength) {
    throw new ArgumentError(
      `${name}.shape`,
      `[..., ${rowLength}] (the fp8_ds_mla row)`,
      `[${t.shape.join(', ')}]`,
    );
  }
}

/** A per-tensor scale: a number whose float32 (the scale tensors' dtype) is finite and > 0. */
function checkDescale(descale: unknown): number {
  const value = typeof descale === 'number' ? Math.fround(descale) : NaN;
  if (!(value > 0 && value < Infinity)) {
    throw new ArgumentError(
      'descale',
      'a number whose float32 is finite and > 0',
      describeValue(descale),
    );
  }
  return value;
}

/** `t`'s shape with its last dimension replaced. */
function withRowLength(t: Tensor, rowLength: number): number[] {
  return [...t.shape.slice(0, -1), rowLength];
}

/** Rows [..., 576] (bf16, fp16 or float32) as fp8_ds_mla tokens [..., 656] of float8_e4m3fn. */
export function quantizeFp8DsMla(rows: Tensor): Tensor {
  checkInput(rows, 'rows', QUANTIZABLE, DS_MLA_HEAD_DIM);
  const src = rows.contiguous();
  const count = src.numel / DS_MLA_HEAD_DIM;
  const bytes = allocHostArray(FP8_CACHE_DTYPE, count * DS_MLA_TOKEN_BYTES) as Uint8Array;
  for (let t = 0; t < count; t++) {
    const dtype = src.dtype as QuantizableDType;
    quantizeDsMlaToken(src.data, t * DS_MLA_HEAD_DIM, dtype, bytes, t * DS_MLA_TOKEN_BYTES);
  }
  return new Tensor(FP8_CACHE_DTYPE, withRowLength(src, DS_MLA_TOKEN_BYTES), bytes);
}

/** fp8_ds_mla tokens [..., 656] (float8_e4m3fn) dequantized to float32 values [..., 576]. */
export function dequantizeFp8DsMla(tokens: Tensor): Tensor {
  checkInput(tokens, 'tokens', [FP8_CACHE_DTYPE], DS_MLA_TOKEN_BYTES);
  const src = tokens.contiguous();
  const count = src.numel / DS_MLA_TOKEN_BYTES;
  const values = allocHostArray('float32', count * DS_MLA_HEAD_DIM) as Float32Array;
  for (let t = 0; t < count; t++) {
    dequantizeDsMlaToken(
      src.data as Uint8Array,
      t * DS_MLA_TOKEN_BYTES,
      values,
      t * DS_MLA_HEAD_DIM,
    );
  }
  return new Tensor('float32', withRowLength(src, DS_MLA_HEAD_DIM), values);
}

/**
 * `values` (bf16, fp16 or float32) as float8_e4m3fn codes under one scale: e4m3_rne(x / descale),
 * saturating (docs/fp8-kv-cache.md). `descale` is taken as a float32, as a scale tensor holds it.
 */
export function quantizeE4m3(values: Tensor, descale: number): Tensor {
  checkInput(values, 'values', QUANTIZABLE);
  const scale = checkDescale(descale);
  const decoded = values.toFloat32();
  const codes = allocHostArray(FP8_CACHE_DTYPE, decoded.length);
  for (let i = 0; i < decoded.length; i++) codes[i] = e4m3Code(decoded[i], scale);
  return new Tensor(FP8_CACHE_DTYPE, values.shape, codes);
}

/** float8_e4m3fn codes as float32 values e4m3(code) * descale (descale taken as a float32). */
export function dequantizeE4m3(codes: Tensor, descale: number): Tensor {
  checkInput(codes, 'codes', [FP8_CACHE_DTYPE]);
  const table = scaledE4m3Table(checkDescale(descale));
  const src = codes.contiguous();
  const values = allocHostArray('float32', src.numel);
  for (let i = 0; i < values.length; i++) values[i] = table[src.data[i]];
  return new Tensor('float32', src.shape, values);
}
