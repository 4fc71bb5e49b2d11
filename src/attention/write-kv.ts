/** writeKv: stores new tokens' rows into a paged cache through a slot mapping. */
import type { TensorLike } from '../tensor.js';
import type { ExecutionOptions } from '../backend/backend.js';
import { backendForTensors } from '../backend/registry.js';
import { validateWriteKv } from './validate.js';
import { validateSlotMapping } from './validate-contents.js';
import { checkHostTensors, int32Contents, shouldCheckContents } from './host-contents.js';
import { checkOptionsObject, validateWriteKvExecution } from './validate-execution.js';

/**
 * cache[slot / pageSize, slot % pageSize] = rows[i] for every i with slot = slotMapping[i] >= 0;
 * -1 skips a row. cache [numPages, pageSize, h_kv, d], rows [n, h_kv, d] of the same dtype,
 * slotMapping [n] int32 (as PagedKvCache.append returns it).
 */
export function writeKv<T extends TensorLike>(
  cache: T,
  rows: T,
  slotMapping: T,
  options?: ExecutionOptions<T>,
): void {
  const shapes = validateWriteKv(cache, rows, slotMapping);
  const tensors = { cache, rows, slotMapping };
  const backend = backendForTensors(tensors);
  validateWriteKvExecution(checkOptionsObject(options, 'options'), backend);
  if (cache.location === 'host') checkHostTensors(tensors);
  if (shouldCheckContents(cache, options?.checkContents)) {
    validateSlotMapping(
      int32Contents(slotMapping, 'slotMapping'),
      shapes.numPages * shapes.pageSize,
    );
  }
  backend.writeKv(cache, rows, slotMapping, options);
}
