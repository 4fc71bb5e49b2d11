/**
 * Content checks: the values of the integer arguments (lengths, block tables, slots, the schedule).
 * They take plain Int32Arrays so that a device backend can run them on host copies; host tensors
 * are checked directly by the public functions. Every check runs before any work is done.
 */
import { ArgumentError } from '../errors.js';
import { computeSchedule, METADATA_ROW_WIDTH } from '../schedule/index.js';

/** Every length is in [0, capacity] (capacity = maxPages * pageSize, the most a row can address). */
export function validateCacheSeqlens(cacheSeqlens: Int32Array, capacity: number): void {
  for (let i = 0; i < cacheSeqlens.length; i++) {
    const length = cacheSeqlens[i];
    if (length < 0 || length > capacity) {
      throw new ArgumentError(
        `cacheSeqlens[${i}]`,
        Number.isFinite(capacity)
          ? `a length in [0, ${capacity}] (maxPages * pageSize)`
          : 'a length >= 0',
        `${length}`,
      );
    }
  }
}

/**
 * The pages a sequence uses, entries [0, ceil(L / pageSize)) of its row, are in [0, numPages).
 * Entries past them are never read and may hold anything.
 */
export function validateBlockTable(
  blockTable: Int32Array,
  cacheSeqlens: Int32Array,
  maxPages: number,
  pageSize: number,
  numPages: number,
): void {
  for (let i = 0; i < cacheSeqlens.length; i++) {
    const pagesUsed = Math.ceil(cacheSeqlens[i] / pageSize);
    for (let p = 0; p < pagesUsed; p++) {
      const page = blockTable[i * maxPages + p];
      if (page < 0 || page >= numPages) {
        throw new ArgumentError(
          `blockTable[${i}][${p}]`,
          `a page index in [0, ${numPages}) (page ${p} of sequence ${i}, length ${cacheSeqlens[i]})`,
          `${page}`,
        );
      }
    }
  }
}

/** Every slot is -1 (skip) or page * pageSize + row within the cache. */
export function validateSlotMapping(slotMapping: Int32Array, numSlots: number): void {
  for (let i = 0; i < slotMapping.length; i++) {
    const slot = slotMapping[i];
    if (slot < -1 || slot >= numSlots) {
      throw new ArgumentError(
        `slotMapping[${i}]`,
        `-1 or a slot in [0, ${numSlots}) (numPages * pageSize)`,
        `${slot}`,
      );
    }
  }
}

/**
 * The schedule is the one getMlaMetadata computes for these lengths and this number of parts.
 * Recomputing it costs O(b + numSmParts); a stale or foreign schedule would otherwise make the
 * decode skip keys or read past a sequence.
 */
export function validateSchedule(
  cacheSeqlens: Int32Array,
  tileSchedulerMetadata: Int32Array,
  numSplits: Int32Array,
): void {
  const numSmParts = tileSchedulerMetadata.length / METADATA_ROW_WIDTH;
  const expected = computeSchedule(cacheSeqlens, numSmParts);
  for (let i = 0; i < expected.numSplits.length; i++) {
    if (numSplits[i] !== expected.numSplits[i]) {
      throw new ArgumentError(
        `numSplits[${i}]`,
        `${expected.numSplits[i]} (getMlaMetadata of these cacheSeqlens)`,
        `${numSplits[i]}`,
      );
    }
  }
  for (let p = 0; p < numSmParts; p++) {
    const row = p * METADATA_ROW_WIDTH;
    for (let f = 0; f < METADATA_ROW_WIDTH; f++) {
      if (tileSchedulerMetadata[row + f] !== expected.tileSchedulerMetadata[row + f]) {
        const want = expected.tileSchedulerMetadata.subarray(row, row + METADATA_ROW_WIDTH);
        const got = tileSchedulerMetadata.subarray(row, row + METADATA_ROW_WIDTH);
        throw new ArgumentError(
          `tileSchedulerMetadata[${p}]`,
          `[${want.join(', ')}] (getMlaMetadata of these cacheSeqlens)`,
          `[${got.join(', ')}]`,
        );
      }
    }
  }
}

/** The integer inputs of one decode call, as dense row-major arrays. */
export interface DecodeContents {
  readonly cacheSeqlens: Int32Array;
  /** [b * maxPages], row-major. */
  readonly blockTable: Int32Array;
  readonly maxPages: number;
  readonly pageSize: number;
  readonly numPages: number;
  /** [numSmParts * 8], row-major. */
  readonly tileSchedulerMetadata: Int32Array;
  readonly numSplits: Int32Array;
}

/** All content checks of an MLA or GQA decode call. */
export function validateDecodeContents(c: DecodeContents): void {
  validateCacheSeqlens(c.cacheSeqlens, c.maxPages * c.pageSize);
  validateBlockTable(c.blockTable, c.cacheSeqlens, c.maxPages, c.pageSize, c.numPages);
  validateSchedule(c.cacheSeqlens, c.tileSchedulerMetadata, c.numSplits);
}
