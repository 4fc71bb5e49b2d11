/** gqaDecodeWithKvcache: MHA / MQA / GQA decode over paged K and V caches. */
import type { TensorLike } from '../tensor.js';
import type { DecodeOptions, DecodeResult, ExecutionOptions } from '../backend/backend.js';
import { backendForTensors } from '../backend/registry.js';
import { resolveDecodeOptions, validateGqaDecode } from './validate.js';
import { checkDecodeCall } from './host-contents.js';
import { checkOptionsObject, validateDecodeExecution } from './validate-execution.js';

/**
 * Attends q [b, s_q, h_q, d] to keys kCache and values vCache, both [numPages, pageSize, h_kv, d]
 * with d in {64, 128, 256}; query head h reads KV head h / (h_q / h_kv). Returns out [b, s_q, h_q, d]
 * in q's dtype and lse [b, h_q, s_q] float32. The schedule comes from
 * getMlaMetadata(cacheSeqlens, s_q * h_q / h_kv, h_kv).
 */
export function gqaDecodeWithKvcache<T extends TensorLike>(
  q: T,
  kCache: T,
  vCache: T,
  blockTable: T,
  cacheSeqlens: T,
  tileSchedulerMetadata: T,
  numSplits: T,
  options?: DecodeOptions & ExecutionOptions<T>,
): DecodeResult<T> {
  const shapes = validateGqaDecode({
    q,
    kCache,
    vCache,
    blockTable,
    cacheSeqlens,
    tileSchedulerMetadata,
    numSplits,
  });
  const resolved = resolveDecodeOptions(options, shapes.dQk);
  const tensors = { q, kCache, vCache, blockTable, cacheSeqlens, tileSchedulerMetadata, numSplits };
  const backend = backendForTensors(tensors);
  validateDecodeExecution(checkOptionsObject(options, 'options'), backend, q, shapes.dV);
  checkDecodeCall(tensors, shapes, options?.checkContents);
  return backend.gqaDecode(
    q,
    kCache,
    vCache,
    blockTable,
    cacheSeqlens,
    { tileSchedulerMetadata, numSplits },
    resolved,
    options,
  ) as DecodeResult<T>;
}
