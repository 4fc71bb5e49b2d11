/** The bytes one token takes in a cache, the number PagedKvCache's byte statistics count in. */
import { checkKvDtype, checkKvShapeFields } from './check-options.js';
import { kvFormat, type KvDtype, type KvShape } from './model-layouts.js';

/**
 * Bytes one token takes over every layer of a cache of `shape` (a model layout's `kv`) in `dtype`:
 * bf16, or the FP8 format of its kind (MLA: fp8_ds_mla, 656 bytes a layer for DeepSeek's latent;
 * GQA: fp8_e4m3), as the memory study counts them. For `new PagedKvCache({ tokenBytes })`.
 */
export function kvTokenBytes(shape: KvShape, dtype: KvDtype): number {
  const checked = checkKvShapeFields('shape', shape);
  return kvFormat(checked, checkKvDtype('dtype', dtype), 'shape').bytesPerToken;
}
