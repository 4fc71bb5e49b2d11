/**
 * fp8_ds_mla: DeepSeek-V3.2's 656-byte MLA token, as FlashMLA lays it out (docs/fp8-kv-cache.md),
 * little-endian:
 *
 *     bytes   0 .. 511   latent values 0..511 as float8_e4m3fn codes
 *     bytes 512 .. 527   four float32 scales; scale g covers values 128 g .. 128 g + 127
 *     bytes 528 .. 655   rope values 512..575 as bfloat16, not quantized
 *
 * One token is quantized and dequantized here; the tensor functions, writeKv and the CPU decode all
 * go through these two functions.
 */
import { decodeTable, encode, type HostArray } from '../dtype.js';
import type { QuantizableDType } from './cache-formats.js';

/** Bytes of one token. */
export const DS_MLA_TOKEN_BYTES = 656;
/** Latent values, stored as e4m3 codes in bytes [0, 512). */
export const DS_MLA_LATENT_DIMS = 512;
/** Rope values, stored as bfloat16 in bytes [528, 656). */
export const DS_MLA_ROPE_DIMS = 64;
/** Values a token holds once dequantized: d_qk of DeepSeek's MLA. */
export const DS_MLA_HEAD_DIM = DS_MLA_LATENT_DIMS + DS_MLA_ROPE_DIMS;
/** Latent values that share one scale. */
export const DS_MLA_GROUP_SIZE = 128;
export const DS_MLA_GROUPS = DS_MLA_LATENT_DIMS / DS_MLA_GROUP_SIZE;
export const DS_MLA_SCALES_OFFSET = DS_MLA_LATENT_DIMS;
export const DS_MLA_ROPE_OFFSET = DS_MLA_SCALES_OFFSET + 4 * DS_MLA_GROUPS;

/** The largest finite float8_e4m3fn value: a group's amax maps to at most this. */
const E4M3_MAX = 448;
/** FlashMLA's floor on amax / 448 (its FP8_AMAX_MARGIN), in float32 as torch clamps. */
const MIN_SCALE = Math.fround(1e-4);
/** The e4m3fn code written for NaN (S.1111.111 with S = 0). */
const E4M3_NAN = 0x7f;

/**
 * The scale of a group whose largest magnitude is `amax` (finite):
 * 2 ^ ceil(log2(max(amax / 448, 1e-4))), with amax / 448 rounded to float32 and the ceiling taken
 * exactly. Always a power of two in [2^-13, 2^120], so x / scale is exact and |x / scale| <= 448.
 */
export function dsMlaScale(amax: number): number {
  const y = Math.max(Math.fround(amax / E4M3_MAX), MIN_SCALE);
  let e = Math.ceil(Math.log2(y));
  // Math.log2 may be an ulp off near a power of two: settle the exponent exactly.
  if (2 ** (e - 1) >= y) e -= 1;
  else if (2 ** e < y) e += 1;
  return 2 ** e;
}

/** 4 bytes through which float32 scales are written and read byte by byte (little-endian). */
const scaleBytes = new DataView(new ArrayBuffer(4));

function writeScale(dst: Uint8Array, offset: number, scale: number): void {
  scaleBytes.setFloat32(0, scale, true);
  for (let b = 0; b < 4; b++) dst[offset + b] = scaleBytes.getUint8(b);
}

function readScale(src: Uint8Array, offset: number): number {
  for (let b = 0; b < 4; b++) scaleBytes.setUint8(b, src[offset + b]);
  return scaleBytes.getFloat32(0, true);
}

/** Value `i` of a row stored at `src[offset]` in `dtype`, decoded. */
function rowReader(src: HostArray, offset: number, dtype: QuantizableDType): (i: number) => number {
  if (dtype === 'float32') return (i) => src[offset + i];
  const table = decodeTable(dtype);
  return (i) => table[src[offset + i]];
}

/**
 * Quantizes the 576 values at `src[srcOffset]` (stored as `srcDType`) into the token at
 * `dst[dstOffset]`. A group holding a NaN or an infinity gets scale NaN and NaN codes; rope values
 * are rounded to bfloat16 (nearest even), and bfloat16 ones copied bit for bit.
 */
export function quantizeDsMlaToken(
  src: HostArray,
  srcOffset: number,
  srcDType: QuantizableDType,
  dst: Uint8Array,
  dstOffset: number,
): void {
  const value = rowReader(src, srcOffset, srcDType);
  for (let g = 0; g < DS_MLA_GROUPS; g++) {
    const first = g * DS_MLA_GROUP_SIZE;
    let amax = 0;
    let sawNaN = false;
    for (let i = first; i < first + DS_MLA_GROUP_SIZE; i++) {
      const a = Math.abs(value(i));
      if (a > amax) amax = a;
      else if (Number.isNaN(a)) sawNaN = true;
    }
    const finite = !sawNaN && amax !== Infinity;
    const scale = finite ? dsMlaScale(amax) : NaN;
    writeScale(dst, dstOffset + DS_MLA_SCALES_OFFSET + 4 * g, scale);
    for (let i = first; i < first + DS_MLA_GROUP_SIZE; i++) {
      dst[dstOffset + i] = finite ? encode('float8_e4m3fn', value(i) / scale) : E4M3_NAN;
    }
  }
  for (let r = 0; r < DS_MLA_ROPE_DIMS; r++) {
    const i = DS_MLA_LATENT_DIMS + r;
    const bits = srcDType === 'bfloat16' ? src[srcOffset + i] : encode('bfloat16', value(i));
    dst[dstOffset + DS_MLA_ROPE_OFFSET + 2 * r] = bits & 0xff;
    dst[dstOffset + DS_MLA_ROPE_OFFSET + 2 * r + 1] = bits >>> 8;
  }
}

/**
 * Dequantizes the token at `src[srcOffset]` into `dst[dstOffset .. + 576)`: latent value i is
 * e4m3(code_i) * scale_(i / 128), rounded to float32 (exact for the power-of-two scales
 * quantizeDsMlaToken writes), rope values are their bfloat16.
 */
export function dequantizeDsMlaToken(
  src: Uint8Array,
  srcOffset: number,
  dst: Float32Array,
  dstOffset: number,
): void {
  const e4m3 = decodeTable('float8_e4m3fn');
  const bf16 = decodeTable('bfloat16');
  for (let g = 0; g < DS_MLA_GROUPS; g++) {
    const scale = readScale(src, srcOffset + DS_MLA_SCALES_OFFSET + 4 * g);
    const first = g * DS_MLA_GROUP_SIZE;
    for (let i = first; i < first + DS_MLA_GROUP_SIZE; i++) {
      dst[dstOffset + i] = e4m3[src[srcOffset + i]] * scale;
    }
  }
  const rope = srcOffset + DS_MLA_ROPE_OFFSET;
  for (let r = 0; r < DS_MLA_ROPE_DIMS; r++) {
    const bits = src[rope + 2 * r] | (src[rope + 2 * r + 1] << 8);
    dst[dstOffset + DS_MLA_LATENT_DIMS + r] = bf16[bits];
  }
}
