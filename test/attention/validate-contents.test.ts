/** The content checks on plain Int32Arrays, as a device backend runs them on host copies. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError } from '../../src/errors.js';
import {
  validateBlockTable,
  validateCacheSeqlens,
  validateDecodeContents,
  validateSchedule,
  validateSlotMapping,
} from '../../src/attention/validate-contents.js';
import { computeSchedule } from '../../src/schedule/index.js';

function rejects(fn: () => void, argument: string, actual: string): void {
  assert.throws(
    fn,
    (e) => e instanceof ArgumentError && e.argument === argument && e.actual === actual,
  );
}

const seqlens = Int32Array.from([33, 0, 16]);
// pageSize 16, maxPages 3: sequence 0 uses entries 0..2, sequence 1 none, sequence 2 entry 0.
const table = Int32Array.from([4, 0, 2, -9, 1 << 30, 7, 3, -1, 99]);

test('valid contents pass, garbage past the used entries included', () => {
  const schedule = computeSchedule(seqlens, 5);
  validateDecodeContents({
    cacheSeqlens: seqlens,
    blockTable: table,
    maxPages: 3,
    pageSize: 16,
    numPages: 5,
    tileSchedulerMetadata: schedule.tileSchedulerMetadata,
    numSplits: schedule.numSplits,
  });
});

test('lengths must lie in [0, maxPages * pageSize]', () => {
  validateCacheSeqlens(Int32Array.from([0, 48]), 48);
  rejects(() => validateCacheSeqlens(Int32Array.from([0, 49]), 48), 'cacheSeqlens[1]', '49');
  rejects(() => validateCacheSeqlens(Int32Array.from([-1]), Infinity), 'cacheSeqlens[0]', '-1');
});

test('used block-table entries must be pages of the pool', () => {
  rejects(() => validateBlockTable(table, seqlens, 3, 16, 4), 'blockTable[0][0]', '4');
  const bad = Int32Array.from(table);
  bad[6] = -3;
  rejects(() => validateBlockTable(bad, seqlens, 3, 16, 5), 'blockTable[2][0]', '-3');
});

test('slots must be -1 or inside the cache', () => {
  validateSlotMapping(Int32Array.from([-1, 0, 79]), 80);
  rejects(() => validateSlotMapping(Int32Array.from([0, 80]), 80), 'slotMapping[1]', '80');
  rejects(() => validateSlotMapping(Int32Array.from([-2]), 80), 'slotMapping[0]', '-2');
});

test('the schedule must be the one of these lengths', () => {
  const schedule = computeSchedule(seqlens, 5);
  validateSchedule(seqlens, schedule.tileSchedulerMetadata, schedule.numSplits);
  const splits = Int32Array.from(schedule.numSplits);
  splits[3] += 1;
  rejects(
    () => validateSchedule(seqlens, schedule.tileSchedulerMetadata, splits),
    'numSplits[3]',
    `${splits[3]}`,
  );
  const metadata = Int32Array.from(schedule.tileSchedulerMetadata);
  metadata[8 + 3] -= 1;
  assert.throws(
    () => validateSchedule(seqlens, metadata, schedule.numSplits),
    (e) => e instanceof ArgumentError && e.argument === 'tileSchedulerMetadata[1]',
  );
});
