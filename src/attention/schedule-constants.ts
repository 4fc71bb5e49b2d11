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

/** SM count of an H100 SXM: the default on the CPU, so that CPU and GPU schedules compare. */
export const DEFAULT_NUM_SMS = 132;

/** How many parts the batch is cut into: about one worker per SM. */
export function numSmPartsFor(
  numSms: number,
  numQTokensPerHeadK: number,
  numHeadsK: number,
): number {
  const rowBlocks = Math.ceil(numQTokensPerHeadK / BLOCK_M);
  return Math.max(1, Math.floor(numSms / (numHeadsK * rowBlocks)));
}
