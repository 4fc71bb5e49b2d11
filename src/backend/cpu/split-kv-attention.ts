/**
 * Executes a split-KV schedule on the host: each part, in order, attends the sequence segments it
 * holds, writing finished sequences directly and cut ones to float32 partials that the combine
 * merges. The parts are the GPU's thread blocks, run one after another.
 */
import {
  BEGIN_BATCH,
  BEGIN_SPLIT,
  BEGIN_TOKEN,
  END_BATCH,
  END_TOKEN,
  METADATA_ROW_WIDTH,
} from '../../schedule/index.js';
import { combineSplits } from './combine.js';
import {
  attendSegment,
  SegmentScratch,
  type SegmentInputs,
  type SegmentOutput,
} from './segment-attention.js';

export interface SplitKvInputs extends SegmentInputs {
  readonly b: number;
  /** [numSmParts * 8], row-major. */
  readonly tileSchedulerMetadata: Int32Array;
  /** [b + 1]. */
  readonly numSplits: Int32Array;
}

/** Decode results before rounding to the output dtype. */
export interface SplitKvResult {
  /** [b, s_q, h_q, d_v]. */
  readonly out: Float32Array;
  /** [b, h_q, s_q]; +Infinity where no key was attended. */
  readonly lse: Float32Array;
}

export function runSplitKvAttention(inputs: SplitKvInputs): SplitKvResult {
  const { b, sQ, hQ, hKv, dV, tileSchedulerMetadata, numSplits, cacheSeqlens } = inputs;
  const rowsPerSeq = sQ * hQ;
  const out = new Float32Array(b * rowsPerSeq * dV);
  const lse = new Float32Array(b * rowsPerSeq);
  const totalSplits = numSplits[b];
  const partials = {
    o: new Float32Array(totalSplits * rowsPerSeq * dV),
    lse: new Float32Array(totalSplits * rowsPerSeq),
  };
  const scratch = new SegmentScratch(inputs);

  const numSmParts = tileSchedulerMetadata.length / METADATA_ROW_WIDTH;
  for (let p = 0; p < numSmParts; p++) {
    const row = p * METADATA_ROW_WIDTH;
    const beginBatch = tileSchedulerMetadata[row + BEGIN_BATCH];
    const endBatch = tileSchedulerMetadata[row + END_BATCH];
    for (let seq = beginBatch; seq <= endBatch; seq++) {
      const start = seq === beginBatch ? tileSchedulerMetadata[row + BEGIN_TOKEN] : 0;
      const end = seq === endBatch ? tileSchedulerMetadata[row + END_TOKEN] : cacheSeqlens[seq];
      const split = tileSchedulerMetadata[row + BEGIN_SPLIT] + (seq - beginBatch);
      const direct = numSplits[seq + 1] - numSplits[seq] === 1;
      const output: SegmentOutput = direct
        ? {
            o: out,
            oBase: seq * rowsPerSeq * dV,
            lse,
            lseBase: seq * rowsPerSeq,
            emptyLse: Infinity,
          }
        : {
            o: partials.o,
            oBase: split * rowsPerSeq * dV,
            lse: partials.lse,
            lseBase: split * rowsPerSeq,
            emptyLse: -Infinity,
          };
      for (let head = 0; head < hKv; head++) {
        attendSegment(inputs, scratch, seq, head, start, end, output);
      }
    }
  }
  combineSplits(partials, numSplits, sQ, hQ, dV, out, lse);
  return { out, lse };
}
