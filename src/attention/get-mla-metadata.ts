/** getMlaMetadata: the split-KV schedule of a batch (docs/schedule.md). */
import type { TensorLike } from '../tensor.js';
import type { MlaMetadata } from '../backend/backend.js';
import { backendForTensors } from '../backend/registry.js';
import { DEFAULT_NUM_SMS, numSmPartsFor } from '../schedule/index.js';
import { validateGetMlaMetadata } from './validate.js';
import { validateCacheSeqlens } from './validate-contents.js';
import { hostInt32 } from './host-contents.js';
import { checkOptionsObject, validateMetadataExecution } from './validate-execution.js';

export interface MlaMetadataOptions<T extends TensorLike = TensorLike> {
  /**
   * SMs the schedule spreads the work over. Default: the device's count for device tensors, 132
   * (an H100's) on the host, so that host and device schedules compare.
   */
  numSms?: number;
  /** The CUDA stream to compute the schedule on (device tensors). */
  stream?: unknown;
  /**
   * Device tensors to write the schedule into instead of new ones (inside CUDA graph capture, and
   * to reuse them step after step); shapes [numSmParts, 8] and [b + 1], int32.
   */
  into?: MlaMetadata<T>;
}

/**
 * Computes the schedule of a decode step from the cached lengths alone, on the tensors' device.
 * `numQTokensPerHeadK` is s_q * h_q / h_kv, `numHeadsK` is h_kv. Compute it once per step and pass
 * it to every layer's decode call.
 */
export function getMlaMetadata<T extends TensorLike>(
  cacheSeqlens: T,
  numQTokensPerHeadK: number,
  numHeadsK: number,
  options: MlaMetadataOptions<T> = {},
): MlaMetadata<T> {
  const opts = checkOptionsObject(options, 'options');
  const givenSms = opts.numSms ?? DEFAULT_NUM_SMS;
  validateGetMlaMetadata(cacheSeqlens, numQTokensPerHeadK, numHeadsK, givenSms);
  const backend = backendForTensors({ cacheSeqlens });
  const numSms = opts.numSms ?? backend.defaultNumSms?.() ?? DEFAULT_NUM_SMS;
  const numSmParts = numSmPartsFor(numSms, numQTokensPerHeadK, numHeadsK);
  validateMetadataExecution(opts, backend, cacheSeqlens, numSmParts);
  if (cacheSeqlens.location === 'host') {
    validateCacheSeqlens(hostInt32(cacheSeqlens, 'cacheSeqlens'), Infinity);
  }
  return backend.getMlaMetadata(cacheSeqlens, numQTokensPerHeadK, numHeadsK, numSms, {
    stream: opts.stream,
    metadata: opts.into,
  }) as MlaMetadata<T>;
}
