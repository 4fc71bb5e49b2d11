/** Writing new tokens' rows into a paged cache on the host, quantizing into an FP8 format if asked. */
import type { Tensor } from '../../tensor.js';
import type { ExecutionOptions, Fp8Write } from '../backend.js';
import type { QuantizableDType } from '../../fp8/cache-formats.js';
import { quantizeDsMlaToken } from '../../fp8/ds-mla-token.js';
import { e4m3Code } from '../../fp8/e4m3-per-tensor.js';
import { decodeTable, type NarrowFloatDType } from '../../dtype.js';
import { int32Values } from '../../int32-values.js';

/** Writes `d` values of one row from rows' storage at `so` into the cache's at `dO`. */
type RowWriter = (so: number, dO: number) => void;

function rowWriter(cache: Tensor, rows: Tensor, fp8: Fp8Write<Tensor> | undefined): RowWriter {
  const d = rows.shape[2];
  const dst = cache.data;
  const src = rows.data;
  if (fp8?.cacheFormat === 'fp8_ds_mla') {
    const dtype = rows.dtype as QuantizableDType;
    return (so, dO) => quantizeDsMlaToken(src, so, dtype, dst as Uint8Array, dO);
  }
  if (fp8?.cacheFormat === 'fp8_e4m3') {
    const descale = (fp8.descale as Tensor).data[0];
    const table = decodeTable(rows.dtype as NarrowFloatDType);
    return (so, dO) => {
      for (let c = 0; c < d; c++) dst[dO + c] = e4m3Code(table[src[so + c]], descale);
    };
  }
  return (so, dO) => {
    for (let c = 0; c < d; c++) dst[dO + c] = src[so + c];
  };
}

/**
 * cache[slot / pageSize, slot % pageSize, g, :] = rows[i, g, :] for slot = slotMapping[i] >= 0,
 * as stored (rows of the cache's dtype) or quantized into `fp8`'s format.
 */
export function writeKv(
  cache: Tensor,
  rows: Tensor,
  slotMapping: Tensor,
  _exec?: ExecutionOptions<Tensor>,
  fp8?: Fp8Write<Tensor>,
): void {
  const [, pageSize, hKv] = cache.shape;
  const slots = int32Values(slotMapping);
  const write = rowWriter(cache, rows, fp8);
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i];
    if (slot < 0) continue;
    const page = Math.floor(slot / pageSize);
    const row = slot % pageSize;
    for (let g = 0; g < hKv; g++) {
      const so = i * rows.strides[0] + g * rows.strides[1];
      write(so, page * cache.strides[0] + row * cache.strides[1] + g * cache.strides[2]);
    }
  }
}
