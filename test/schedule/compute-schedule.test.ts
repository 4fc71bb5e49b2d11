import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BLOCK_N,
  computeSchedule,
  FIXED_OVERHEAD_BLOCKS,
  METADATA_ROW_WIDTH,
} from '../../src/schedule/index.js';

function rows(metadata: Int32Array): number[][] {
  const out: number[][] = [];
  for (let p = 0; p < metadata.length; p += METADATA_ROW_WIDTH) {
    out.push([...metadata.subarray(p, p + METADATA_ROW_WIDTH)]);
  }
  return out;
}

test('the examples of docs/schedule.md, verbatim: a cut, then whole sequences', () => {
  const cut = computeSchedule(Int32Array.from([100, 0, 1000]), 4);
  assert.deepEqual(rows(cut.tileSchedulerMetadata), [
    [0, 0, 1, 0, 0, 0, 0, 0],
    [2, 0, 2, 576, 2, 0, 0, 0],
    [2, 576, 2, 1000, 3, 0, 0, 0],
    [3, 0, 2, 1000, 4, 0, 0, 0],
  ]);
  assert.deepEqual([...cut.numSplits], [0, 1, 2, 4]);
  const whole = computeSchedule(Int32Array.from([100, 500, 100]), 3);
  assert.deepEqual(rows(whole.tileSchedulerMetadata), [
    [0, 0, 0, 100, 0, 0, 0, 0],
    [1, 0, 1, 500, 1, 0, 0, 0],
    [2, 0, 2, 100, 2, 0, 0, 0],
  ]);
  assert.deepEqual([...whole.numSplits], [0, 1, 2, 3]);
});

test('equal sequences take whole sequences when a part may hold one overhead more, else are cut', () => {
  // 128 x 4096 keys over 33 parts: a share of 268 blocks + 5, four sequences cost 276 <= 278.
  const four = computeSchedule(new Int32Array(128).fill(4096), 33);
  assert.equal(four.numSplits[128], 128, 'no sequence cut');
  const meta = rows(four.tileSchedulerMetadata);
  for (let p = 0; p < 32; p++)
    assert.deepEqual(meta[p].slice(0, 5), [4 * p, 0, 4 * p + 3, 4096, 4 * p]);
  assert.deepEqual(meta[32].slice(0, 5), [128, 0, 127, 4096, 128], 'the last part is empty');
  // 128 x 8192 keys over 33 parts: four sequences cost 532 > 521 + 5, so parts cut them.
  const cut = computeSchedule(new Int32Array(128).fill(8192), 33);
  assert.ok(cut.numSplits[128] > 128, 'sequences cut');
});

test('an empty batch gives one empty part per SM and numSplits [0]', () => {
  const schedule = computeSchedule(new Int32Array(0), 3);
  assert.deepEqual([...schedule.numSplits], [0]);
  for (const row of rows(schedule.tileSchedulerMetadata)) {
    assert.deepEqual(row, [0, 0, -1, 0, 0, 0, 0, 0]);
  }
});

/** Checks every invariant docs/schedule.md promises, for one length set. */
function checkInvariants(seqlens: number[], numSmParts: number): void {
  const lengths = Int32Array.from(seqlens);
  const { tileSchedulerMetadata, numSplits } = computeSchedule(lengths, numSmParts);
  const b = lengths.length;
  const parts = rows(tileSchedulerMetadata);
  assert.equal(parts.length, numSmParts);
  assert.equal(numSplits[0], 0);
  assert.ok(numSplits[b] <= b + numSmParts, 'total splits <= b + numSmParts');

  const blocks = lengths.map((l) => Math.ceil(l / BLOCK_N));
  let total = 0;
  for (const n of blocks) total += n + FIXED_OVERHEAD_BLOCKS;
  const payload = Math.ceil(total / numSmParts) + FIXED_OVERHEAD_BLOCKS;

  // Whole sequences (no split beyond one a sequence) let a part cost one overhead more.
  const bound = numSplits[b] === b ? payload + FIXED_OVERHEAD_BLOCKS : payload;
  // Segments per sequence, in the order the parts hold them.
  const segments: { start: number; end: number; split: number }[][] = seqlens.map(() => []);
  let nextSplit = 0;
  for (const [beginBatch, beginToken, endBatch, endToken, beginSplit, ...pad] of parts) {
    assert.deepEqual(pad, [0, 0, 0]);
    if (beginBatch > endBatch) {
      assert.equal(beginBatch, endBatch + 1, 'an empty part ends just before it begins');
      assert.equal(beginSplit, nextSplit);
      continue;
    }
    assert.equal(beginSplit, nextSplit, 'splits are numbered consecutively across parts');
    let cost = 0;
    for (let k = beginBatch; k <= endBatch; k++) {
      const start = k === beginBatch ? beginToken : 0;
      const end = k === endBatch ? endToken : lengths[k];
      segments[k].push({ start, end, split: beginSplit + (k - beginBatch) });
      cost += Math.ceil(end / BLOCK_N) - Math.floor(start / BLOCK_N) + FIXED_OVERHEAD_BLOCKS;
    }
    assert.ok(cost <= bound, `part cost ${cost} <= ${bound}`);
    nextSplit = beginSplit + (endBatch - beginBatch) + 1;
  }
  assert.equal(nextSplit, numSplits[b]);

  for (let i = 0; i < b; i++) {
    const segs = segments[i];
    assert.ok(segs.length >= 1, `sequence ${i} is covered`);
    assert.equal(segs.length, numSplits[i + 1] - numSplits[i], `splits of sequence ${i}`);
    // Every key exactly once, in order, split numbers consecutive from numSplits[i].
    let covered = 0;
    for (let s = 0; s < segs.length; s++) {
      assert.equal(segs[s].split, numSplits[i] + s);
      assert.equal(segs[s].start, covered);
      assert.ok(segs[s].end >= segs[s].start);
      if (s < segs.length - 1) {
        // A cut point: a multiple of BLOCK_N strictly inside the sequence.
        assert.equal(segs[s].end % BLOCK_N, 0);
        assert.ok(segs[s].end > 0 && segs[s].end < lengths[i]);
        assert.ok(segs[s].end > segs[s].start);
      }
      covered = segs[s].end;
    }
    assert.equal(covered, lengths[i], `sequence ${i} covered to its end`);
    if (lengths[i] === 0) assert.equal(segs.length, 1, 'an empty sequence has one split');
  }
}

test('schedule invariants hold on random length sets', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.integer({ min: 0, max: 300 }),
          fc.integer({ min: 0, max: 50000 }),
          fc.constant(0),
        ),
        { minLength: 0, maxLength: 40 },
      ),
      fc.integer({ min: 1, max: 200 }),
      (seqlens, numSmParts) => checkInvariants(seqlens, numSmParts),
    ),
    { numRuns: 500, seed: 20260101 },
  );
});

test('schedule invariants hold on the benchmark shapes', () => {
  checkInvariants([4641, 45118, 1730, 1696], 132);
  checkInvariants(new Array(128).fill(4096), 132);
  checkInvariants([32768], 132);
  checkInvariants([1, 63, 64, 65, 127, 128, 129], 7);
});
