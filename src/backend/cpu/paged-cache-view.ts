/** A paged cache tensor [numPages, pageSize, h_kv, d] as raw bits, strides and a decode table. */
import { decodeTable, type NarrowFloatDType } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';

export interface PagedCacheView {
  /** Raw bf16 / fp16 bit patterns. */
  readonly bits: Uint16Array;
  /** Every bit pattern decoded: bits -> value. */
  readonly table: Float32Array;
  readonly pageStride: number;
  readonly rowStride: number;
  readonly headStride: number;
  /** Entries per row of one head. */
  readonly dim: number;
}

export function pagedCacheView(cache: Tensor): PagedCacheView {
  return {
    bits: cache.data as Uint16Array,
    table: decodeTable(cache.dtype as NarrowFloatDType),
    pageStride: cache.strides[0],
    rowStride: cache.strides[1],
    headStride: cache.strides[2],
    dim: cache.shape[3],
  };
}
