import { checkIntegerIn, INT32_MAX } from '../check-integer.js';

/**
 * The constants of the split-KV schedule (docs/schedule.md). Every backend (the CPU loop and the
 * GPU scheduler kernel) uses exactly these, so that their schedules are bit-identical.
 */

/** Query rows (query tokens x heads per KV head) one worker handles at once. */
export const BLOCK_M = 64;

/** Keys per block: the unit in which work is counted and in which sequences are cut. */
export const BLOCK_N = 64;

/** The cost of starting a split, in key blocks; it keeps the schedule from making tiny chunks. */
export const FIXED_OVERHEAD_BLOCKS = 5;

/** Width of one row of tileSchedulerMetadata (five fields used, padded to eight). */
export const METADATA_ROW_WIDTH = 8;

/** Field offsets inside one row of tileSchedulerMetadata. */
export const BEGIN_BATCH = 0;
export const BEGIN_TOKEN = 1;
export const END_BATCH = 2;
export const END_TOKEN = 3;
export const BEGIN_SPLIT = 4;

/** SM count of an H100 SXM: the default on the CPU, so that CPU and GPU schedules compare. */
export const DEFAULT_NUM_SMS = 132;

/**
 * The most SMs a schedule may be spread over: far above any GPU's count (an H200 has 132), low enough
 * that the schedule's [numSmParts, 8] rows stay a small allocation.
 */
export const MAX_NUM_SMS = 4096;

/** The schedule's sizes are integers in range (the native library reads them as int32). */
export function checkScheduleSizes(
  numSms: unknown,
  numQTokensPerHeadK: unknown,
  numHeadsK: unknown,
): void {
  checkIntegerIn(numQTokensPerHeadK, 'numQTokensPerHeadK', 1, INT32_MAX, 'an int32');
  checkIntegerIn(numHeadsK, 'numHeadsK', 1, INT32_MAX, 'an int32');
  checkIntegerIn(numSms, 'numSms', 1, MAX_NUM_SMS, 'MAX_NUM_SMS');
}

/** How many parts the batch is cut into: about one worker per SM. */
export function numSmPartsFor(
  numSms: number,
  numQTokensPerHeadK: number,
  numHeadsK: number,
): number {
  checkScheduleSizes(numSms, numQTokensPerHeadK, numHeadsK);
  const rowBlocks = Math.ceil(numQTokensPerHeadK / BLOCK_M);
  return Math.max(1, Math.floor(numSms / (numHeadsK * rowBlocks)));
}
