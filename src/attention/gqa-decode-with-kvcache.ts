/** gqaDecodeWithKvcache: MHA / MQA / GQA decode over paged K and V caches. */
import type { TensorLike } from '../tensor.js';
import type {
  DecodeOptions,
  DecodeResult,
  ExecutionOptions,
  GqaFp8Options,
} from '../backend/backend.js';
import { resolveDecodeOptions, validateGqaDecode } from './validate.js';
import { resolveGqaFp8 } from './validate-fp8.js';
import { decodeBackend } from './decode-backend.js';

/**
 * Attends q [b, s_q, h_q, d] to keys kCache and values vCache, both [numPages, pageSize, h_kv, d]
 * with d in {64, 128, 256}; query head h reads KV head h / (h_q / h_kv). Returns out [b, s_q, h_q, d]
 * in q's dtype (bfloat16 for float8_e4m3fn q) and lse [b, h_q, s_q] float32. The schedule comes
 * from getMlaMetadata(cacheSeqlens, s_q * h_q / h_kv, h_kv). fp8_e4m3 caches
 * (docs/fp8-kv-cache.md): `descaleK` and `descaleV`, and `descaleQ` for float8_e4m3fn q.
 * On the GPU the call may count the pieces of the sequences the schedule cut in the schedule's
 * spare words, which it returns to zero (docs/schedule.md says when): one schedule must not serve
 * two of these calls running at the same time on different streams.
 */
export function gqaDecodeWithKvcache<T extends TensorLike>(
  q: T,
  kCache: T,
  vCache: T,
  blockTable: T,
  cacheSeqlens: T,
  tileSchedulerMetadata: T,
  numSplits: T,
  options?: DecodeOptions & GqaFp8Options<T> & ExecutionOptions<T>,
): DecodeResult<T> {
  const fp8 = resolveGqaFp8(options, q, kCache);
  const shapes = validateGqaDecode(
    { q, kCache, vCache, blockTable, cacheSeqlens, tileSchedulerMetadata, numSplits },
    fp8?.cacheFormat,
  );
  const resolved = resolveDecodeOptions(options, shapes.dQk, fp8);
  const tensors = { q, kCache, vCache, blockTable, cacheSeqlens, tileSchedulerMetadata, numSplits };
  return decodeBackend('gqaDecode', tensors, shapes, fp8, options).gqaDecode(
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
