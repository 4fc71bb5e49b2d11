/** Writing new tokens' rows into a paged cache on the host. */
import type { Tensor } from '../../tensor.js';
import { int32Values } from '../../int32-values.js';

/** cache[slot / pageSize, slot % pageSize, g, :] = rows[i, g, :] for slot = slotMapping[i] >= 0. */
export function writeKv(cache: Tensor, rows: Tensor, slotMapping: Tensor): void {
  const [, pageSize, hKv, d] = cache.shape;
  const slots = int32Values(slotMapping);
  const dst = cache.data;
  const src = rows.data;
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i];
    if (slot < 0) continue;
    const page = Math.floor(slot / pageSize);
    const row = slot % pageSize;
    for (let g = 0; g < hKv; g++) {
      const so = i * rows.strides[0] + g * rows.strides[1];
      const dO = page * cache.strides[0] + row * cache.strides[1] + g * cache.strides[2];
      for (let c = 0; c < d; c++) dst[dO + c] = src[so + c];
    }
  }
}
