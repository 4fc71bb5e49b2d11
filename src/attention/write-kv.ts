/** writeKv: stores new tokens' rows into a paged cache through a slot mapping. */
import type { TensorLike } from '../tensor.js';
import type { ExecutionOptions, WriteKvFp8Options } from '../backend/backend.js';
import { backendForTensors } from '../backend/registry.js';
import { validateWriteKv } from './validate.js';
import { validateSlotMapping } from './validate-contents.js';
import { checkHostTensors, int32Contents, shouldCheckContents } from './host-contents.js';
import { checkOptionsObject, validateWriteKvExecution } from './validate-execution.js';
import {
  checkFp8Backend,
  checkScaleValues,
  resolveWriteKvFp8,
  scaleTensors,
} from './validate-fp8.js';

/**
 * cache[slot / pageSize, slot % pageSize] = rows[i] for every i with slot = slotMapping[i] >= 0;
 * -1 skips a row. cache [numPages, pageSize, h_kv, d], rows [n, h_kv, d] of the same dtype,
 * slotMapping [n] int32 (as PagedKvCache.append returns it). Into an FP8 cache (both backends, the
 * same bytes), bf16 / fp16 rows are quantized as docs/fp8-kv-cache.md says: `isFp8Kvcache` for an
 * fp8_ds_mla cache [numPages, pageSize, 1, 656] from rows [n, 1, 576], `descale` for fp8_e4m3.
 */
export function writeKv<T extends TensorLike>(
  cache: T,
  rows: T,
  slotMapping: T,
  options?: WriteKvFp8Options<T> & ExecutionOptions<T>,
): void {
  const fp8 = resolveWriteKvFp8(options, cache);
  const shapes = validateWriteKv(cache, rows, slotMapping, fp8?.cacheFormat);
  const scales = scaleTensors(fp8);
  const tensors = { cache, rows, slotMapping, ...scales };
  const backend = backendForTensors(tensors);
  checkFp8Backend(fp8, backend, 'options.descale', 'writeKv');
  validateWriteKvExecution(checkOptionsObject(options, 'options'), backend);
  if (cache.location === 'host') checkHostTensors(tensors);
  if (shouldCheckContents(cache, options?.checkContents)) {
    validateSlotMapping(
      int32Contents(slotMapping, 'slotMapping'),
      shapes.numPages * shapes.pageSize,
    );
  }
  checkScaleValues(scales, options?.checkContents);
  backend.writeKv(cache, rows, slotMapping, options, fp8);
}
