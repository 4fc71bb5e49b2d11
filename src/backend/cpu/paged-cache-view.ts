/**
 * A paged cache tensor [numPages, pageSize, h_kv, d] as the split-KV loop reads it: strides, and
 * a reader that decodes one stored row into float32 values, whatever the cache's format.
 */
import { decodeTable, type NarrowFloatDType } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import type { Fp8CacheFormat } from '../../fp8/cache-formats.js';
import { DS_MLA_HEAD_DIM, dequantizeDsMlaToken } from '../../fp8/ds-mla-token.js';
import { scaledE4m3Table } from '../../fp8/e4m3-per-tensor.js';

export interface PagedCacheView {
  readonly pageStride: number;
  readonly rowStride: number;
  readonly headStride: number;
  /** Values per row of one head, once decoded (576 for a 656-byte fp8_ds_mla token). */
  readonly dim: number;
  /** Decodes the row stored at element `src` of the cache into dst[d .. d + dim). */
  readonly readRow: (src: number, dst: Float32Array, d: number) => void;
}

/** Rows of narrow-float bits read through a table: bits -> value. */
function tableReader(bits: ArrayLike<number>, table: Float32Array, dim: number) {
  return (src: number, dst: Float32Array, d: number): void => {
    for (let c = 0; c < dim; c++) dst[d + c] = table[bits[src + c]];
  };
}

/**
 * Every bit pattern of `t`'s dtype decoded: as stored, or for float8_e4m3fn with a scale (a
 * one-element float32 tensor, checked by src/attention/), e4m3 * descale in float32.
 */
export function valueTable(t: Tensor, descale: Tensor | undefined): Float32Array {
  if (descale) return scaledE4m3Table(descale.data[0]);
  return decodeTable(t.dtype as NarrowFloatDType);
}

/**
 * `cache` read in its format: bf16 / fp16 as stored, fp8_e4m3 as e4m3 * descale (`descale` given),
 * fp8_ds_mla through its token layout.
 */
export function pagedCacheView(
  cache: Tensor,
  format?: Fp8CacheFormat,
  descale?: Tensor,
): PagedCacheView {
  const strides = {
    pageStride: cache.strides[0],
    rowStride: cache.strides[1],
    headStride: cache.strides[2],
  };
  if (format === 'fp8_ds_mla') {
    const bytes = cache.data as Uint8Array;
    const readRow = (src: number, dst: Float32Array, d: number): void =>
      dequantizeDsMlaToken(bytes, src, dst, d);
    return { ...strides, dim: DS_MLA_HEAD_DIM, readRow };
  }
  const dim = cache.shape[3];
  return { ...strides, dim, readRow: tableReader(cache.data, valueTable(cache, descale), dim) };
}
