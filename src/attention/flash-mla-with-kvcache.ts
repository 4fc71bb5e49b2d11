/** flashMlaWithKvcache: MLA decode over a paged KV cache (FlashMLA's name and argument order). */
import type { TensorLike } from '../tensor.js';
import type { DecodeOptions, DecodeResult, ExecutionOptions } from '../backend/backend.js';
import { backendForTensors } from '../backend/registry.js';
import { resolveDecodeOptions, validateMlaDecode } from './validate.js';
import { checkDecodeCall } from './host-contents.js';
import { checkOptionsObject, validateDecodeExecution } from './validate-execution.js';

/**
 * Attends every query row of q [b, s_q, h_q, d_qk] to its sequence's cached keys
 * kCache [numPages, pageSize, h_kv, d_qk]; the values are the first headDimV entries of each key.
 * Returns out [b, s_q, h_q, headDimV] in q's dtype and lse [b, h_q, s_q] float32 (+Infinity where
 * no key was attended, with out = 0). The schedule comes from getMlaMetadata of the same lengths.
 */
export function flashMlaWithKvcache<T extends TensorLike>(
  q: T,
  kCache: T,
  blockTable: T,
  cacheSeqlens: T,
  headDimV: number,
  tileSchedulerMetadata: T,
  numSplits: T,
  options?: DecodeOptions & ExecutionOptions<T>,
): DecodeResult<T> {
  const shapes = validateMlaDecode({
    q,
    kCache,
    blockTable,
    cacheSeqlens,
    headDimV,
    tileSchedulerMetadata,
    numSplits,
  });
  const resolved = resolveDecodeOptions(options, shapes.dQk);
  const tensors = { q, kCache, blockTable, cacheSeqlens, tileSchedulerMetadata, numSplits };
  const backend = backendForTensors(tensors);
  validateDecodeExecution(checkOptionsObject(options, 'options'), backend, q, shapes.dV);
  checkDecodeCall(tensors, shapes, options?.checkContents);
  return backend.mlaDecode(
    q,
    kCache,
    blockTable,
    cacheSeqlens,
    headDimV,
    { tileSchedulerMetadata, numSplits },
    resolved,
    options,
  ) as DecodeResult<T>;
}
