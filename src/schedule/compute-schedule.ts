/**
 * The split-KV schedule (docs/schedule.md), computed on the host. This is the specification the GPU
 * scheduler kernel must reproduce bit for bit: integer arithmetic only, in batch order.
 */
import {
  BEGIN_BATCH,
  BEGIN_SPLIT,
  BEGIN_TOKEN,
  BLOCK_N,
  END_BATCH,
  END_TOKEN,
  FIXED_OVERHEAD_BLOCKS,
  METADATA_ROW_WIDTH,
} from './constants.js';

/** The schedule as plain arrays: metadata [numSmParts * 8] row-major and numSplits [b + 1]. */
export interface Schedule {
  readonly numSmParts: number;
  readonly tileSchedulerMetadata: Int32Array;
  readonly numSplits: Int32Array;
}

/** Cuts the keys of every sequence into numSmParts parts of nearly equal cost. */
export function computeSchedule(cacheSeqlens: Int32Array, numSmParts: number): Schedule {
  const b = cacheSeqlens.length;
  let total = 0;
  for (let i = 0; i < b; i++) total += blocksOf(cacheSeqlens[i]) + FIXED_OVERHEAD_BLOCKS;
  const payload = Math.ceil(total / numSmParts) + FIXED_OVERHEAD_BLOCKS;
  // At least a sequence a part: whole sequences when a part then takes at most one overhead more
  // than its share, since a cut costs the call a merge of partial outputs, more than that imbalance.
  const whole =
    b >= numSmParts ? walk(cacheSeqlens, numSmParts, payload + FIXED_OVERHEAD_BLOCKS, false) : null;
  return whole ?? (walk(cacheSeqlens, numSmParts, payload, true) as Schedule);
}

/**
 * The greedy walk of docs/schedule.md: each part takes the work in batch order until `payload` is
 * spent, cutting the sequence that does not fit when `cut`, else ending before it. Null when the
 * parts end before the batch does (only without cuts).
 */
function walk(
  cacheSeqlens: Int32Array,
  numSmParts: number,
  payload: number,
  cut: boolean,
): Schedule | null {
  const b = cacheSeqlens.length;
  const metadata = new Int32Array(numSmParts * METADATA_ROW_WIDTH);
  const numSplits = new Int32Array(b + 1);

  let batch = 0;
  let block = 0;
  let split = 0;
  for (let p = 0; p < numSmParts; p++) {
    const row = p * METADATA_ROW_WIDTH;
    metadata[row + BEGIN_BATCH] = batch;
    metadata[row + BEGIN_TOKEN] = block * BLOCK_N;
    metadata[row + BEGIN_SPLIT] = split;
    // "Nothing yet": a part that takes no work ends just before where it begins.
    let endBatch = batch - 1;
    let endToken = batch > 0 ? cacheSeqlens[batch - 1] : 0;
    let remaining = payload;
    while (batch < b && remaining > FIXED_OVERHEAD_BLOCKS) {
      const rest = blocksOf(cacheSeqlens[batch]) - block;
      if (rest + FIXED_OVERHEAD_BLOCKS <= remaining) {
        // The rest of this sequence fits in this part.
        remaining -= rest + FIXED_OVERHEAD_BLOCKS;
        endBatch = batch;
        endToken = cacheSeqlens[batch];
        split += 1;
        numSplits[batch + 1] = split;
        batch += 1;
        block = 0;
      } else if (cut) {
        // Cut it: at least one block stays on each side; the continuation goes to the next part.
        block += remaining - FIXED_OVERHEAD_BLOCKS;
        endBatch = batch;
        endToken = block * BLOCK_N;
        split += 1;
        remaining = 0;
      } else {
        break; // it starts the next part
      }
    }
    metadata[row + END_BATCH] = endBatch;
    metadata[row + END_TOKEN] = endToken;
  }
  if (batch < b) return null;
  return { numSmParts, tileSchedulerMetadata: metadata, numSplits };
}

function blocksOf(seqlen: number): number {
  return Math.ceil(seqlen / BLOCK_N);
}
