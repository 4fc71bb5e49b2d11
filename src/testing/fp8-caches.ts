/**
 * FP8 versions of test caches and queries: each quantized tensor beside the float32 tensor of its
 * dequantized values (what the reference attends) and, for fp8_e4m3, its scale as the decode
 * calls take it.
 */
import { Tensor } from '../tensor.js';
import { Random } from './random.js';
import {
  dequantizeE4m3,
  dequantizeFp8DsMla,
  quantizeE4m3,
  quantizeFp8DsMla,
} from '../fp8/fp8-tensors.js';

export interface Fp8Tensor {
  /** float8_e4m3fn: fp8_ds_mla tokens or fp8_e4m3 codes. */
  readonly fp8: Tensor;
  /** float32, the shape of the original: the values the fp8 tensor stands for. */
  readonly dequantized: Tensor;
}

export interface E4m3Tensor extends Fp8Tensor {
  /** [1] float32. */
  readonly descale: Tensor;
}

/** `t` as fp8_ds_mla tokens (last dimension 576 -> 656). */
export function dsMlaOf(t: Tensor): Fp8Tensor {
  const fp8 = quantizeFp8DsMla(t);
  return { fp8, dequantized: dequantizeFp8DsMla(fp8) };
}

/**
 * `t` as fp8_e4m3 under `descale`; by default amax / 448 over its finite values (in float32), so
 * that nothing saturates.
 */
export function e4m3Of(t: Tensor, descale?: number): E4m3Tensor {
  let amax = 0;
  for (const v of t.toFloat32()) if (Math.abs(v) > amax && Number.isFinite(v)) amax = Math.abs(v);
  const scale = Math.fround(descale ?? (amax > 0 ? amax / 448 : 1));
  const fp8 = quantizeE4m3(t, scale);
  return {
    fp8,
    dequantized: dequantizeE4m3(fp8, scale),
    descale: Tensor.from([scale], [1], 'float32'),
  };
}

/**
 * A cache's values with, in each of the first `groups` groups of `groupLength` values of every row,
 * one value 100x the rest (bf16 again): data that fp8_ds_mla's per-group scales and fp8_e4m3's one
 * scale must follow.
 */
export function withOutliers(
  cache: Tensor,
  groupLength: number,
  groups: number,
  seed: number,
): Tensor {
  const rng = new Random(seed);
  const x = cache.toFloat32();
  const rowLength = cache.shape[3];
  for (let row = 0; row < x.length; row += rowLength) {
    for (let g = 0; g < groups; g++) x[row + g * groupLength + rng.int(0, groupLength)] *= 100;
  }
  return Tensor.from(x, cache.shape, 'bfloat16');
}
