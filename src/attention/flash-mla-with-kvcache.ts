/** flashMlaWithKvcache: MLA decode over a paged KV cache (FlashMLA's name and argument order). */
import type { TensorLike } from '../tensor.js';
import type {
  DecodeOptions,
  DecodeResult,
  ExecutionOptions,
  MlaFp8Options,
} from '../backend/backend.js';
import { resolveDecodeOptions, validateMlaDecode } from './validate.js';
import { resolveMlaFp8 } from './validate-fp8.js';
import { decodeBackend } from './decode-backend.js';

/**
 * Attends every query row of q [b, s_q, h_q, d_qk] to its sequence's cached keys
 * kCache [numPages, pageSize, h_kv, d_qk]; the values are the first headDimV entries of each key.
 * Returns out [b, s_q, h_q, headDimV] in q's dtype (bfloat16 for float8_e4m3fn q) and lse
 * [b, h_q, s_q] float32 (+Infinity where no key was attended, with out = 0). The schedule comes
 * from getMlaMetadata of the same lengths. FP8 caches (docs/fp8-kv-cache.md): `isFp8Kvcache` for
 * FlashMLA's 656-byte fp8_ds_mla tokens, `descaleK` (and `descaleQ` for float8_e4m3fn q) for
 * fp8_e4m3.
 */
export function flashMlaWithKvcache<T extends TensorLike>(
  q: T,
  kCache: T,
  blockTable: T,
  cacheSeqlens: T,
  headDimV: number,
  tileSchedulerMetadata: T,
  numSplits: T,
  options?: DecodeOptions & MlaFp8Options<T> & ExecutionOptions<T>,
): DecodeResult<T> {
  const fp8 = resolveMlaFp8(options, q, kCache);
  const shapes = validateMlaDecode(
    { q, kCache, blockTable, cacheSeqlens, headDimV, tileSchedulerMetadata, numSplits },
    fp8?.cacheFormat,
  );
  const resolved = resolveDecodeOptions(options, shapes.dQk, fp8);
  const tensors = { q, kCache, blockTable, cacheSeqlens, tileSchedulerMetadata, numSplits };
  return decodeBackend('mlaDecode', tensors, shapes, fp8, options).mlaDecode(
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
