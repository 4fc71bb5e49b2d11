/**
 * The inner loop of decode: all query rows that share one KV head, attended to one segment
 * [start, end) of one sequence's keys, with an online softmax over blocks of BLOCK_N keys.
 *
 * Precision: scores, probabilities and the output accumulator are float32 (as on the GPU); dot
 * products and the running max / sum are kept in doubles, which only makes them more exact.
 *
 * A row that attends no key of the segment (its causal limit lies before `start`) gets o = 0 and
 * lse = `emptyLse`: -Infinity for a partial result, so that it weighs nothing in the combine, and
 * +Infinity (the package's "no key attended") when the result is final.
 */
import { BLOCK_N } from '../../schedule/index.js';
import type { PagedCacheView } from './paged-cache-view.js';

/** The sizes and inputs that stay the same for every segment of a decode call. */
export interface SegmentInputs {
  readonly sQ: number;
  readonly hQ: number;
  readonly hKv: number;
  readonly dQk: number;
  readonly dV: number;
  readonly pageSize: number;
  readonly maxPages: number;
  /** Queries decoded, [b, s_q, h_q, d_qk] dense. */
  readonly q: Float32Array;
  readonly keys: PagedCacheView;
  /** Separate values (GQA), or undefined when values are the first d_v entries of keys (MLA). */
  readonly values: PagedCacheView | undefined;
  /** [b * maxPages], row-major. */
  readonly blockTable: Int32Array;
  readonly cacheSeqlens: Int32Array;
  readonly softmaxScale: number;
  readonly causal: boolean;
}

/** Where a segment's result goes: o as [s_q, h_q, d_v] at oBase, lse as [h_q, s_q] at lseBase. */
export interface SegmentOutput {
  readonly o: Float32Array;
  readonly oBase: number;
  readonly lse: Float32Array;
  readonly lseBase: number;
  readonly emptyLse: number;
}

/** Buffers reused across segments, so the inner loops allocate nothing. */
export class SegmentScratch {
  readonly keyBlock: Float32Array;
  readonly valueBlock: Float32Array;
  readonly scores = new Float32Array(BLOCK_N);
  readonly acc: Float32Array;
  readonly rowMax: Float64Array;
  readonly rowSum: Float64Array;
  /** Exclusive key limit of each row (L, or the causal limit). */
  readonly rowLimit: Int32Array;
  /** Offset of each row's query in SegmentInputs.q. */
  readonly rowQuery: Int32Array;

  constructor(inputs: SegmentInputs) {
    const rows = (inputs.sQ * inputs.hQ) / inputs.hKv;
    this.keyBlock = new Float32Array(BLOCK_N * inputs.dQk);
    this.valueBlock = new Float32Array(inputs.values ? BLOCK_N * inputs.dV : 0);
    this.acc = new Float32Array(rows * inputs.dV);
    this.rowMax = new Float64Array(rows);
    this.rowSum = new Float64Array(rows);
    this.rowLimit = new Int32Array(rows);
    this.rowQuery = new Int32Array(rows);
  }
}

/** Decodes rows [t0, t1) of one KV head of sequence `seq` into `dst` ([t1 - t0, cache.dim]). */
function loadRows(
  cache: PagedCacheView,
  inputs: SegmentInputs,
  seq: number,
  head: number,
  t0: number,
  t1: number,
  dst: Float32Array,
): void {
  const { readRow, pageStride, rowStride, headStride, dim } = cache;
  const { pageSize, blockTable } = inputs;
  const pageRow = seq * inputs.maxPages;
  let d = 0;
  for (let t = t0; t < t1; t++) {
    const page = blockTable[pageRow + Math.floor(t / pageSize)];
    readRow(page * pageStride + (t % pageSize) * rowStride + head * headStride, dst, d);
    d += dim;
  }
}

/** Computes (o, lse) of every query row of KV head `head` of sequence `seq` over keys [start, end). */
export function attendSegment(
  inputs: SegmentInputs,
  scratch: SegmentScratch,
  seq: number,
  head: number,
  start: number,
  end: number,
  output: SegmentOutput,
): void {
  const { sQ, hQ, hKv, dQk, dV, q, softmaxScale } = inputs;
  const { keyBlock, scores, acc, rowMax, rowSum, rowLimit, rowQuery } = scratch;
  const headsPerKv = hQ / hKv;
  const rows = sQ * headsPerKv;
  const length = inputs.cacheSeqlens[seq];

  // Row r is query token j = r / headsPerKv of query head head * headsPerKv + r % headsPerKv.
  for (let r = 0; r < rows; r++) {
    const j = Math.floor(r / headsPerKv);
    const h = head * headsPerKv + (r % headsPerKv);
    rowQuery[r] = ((seq * sQ + j) * hQ + h) * dQk;
    rowLimit[r] = inputs.causal ? length - sQ + j + 1 : length;
    rowMax[r] = -Infinity;
    rowSum[r] = 0;
  }
  acc.fill(0, 0, rows * dV);

  // MLA reads values from the decoded keys (their first d_v entries); GQA decodes its own.
  const values = inputs.values ? scratch.valueBlock : keyBlock;
  const valueStride = inputs.values ? dV : dQk;

  for (let t0 = start; t0 < end; t0 += BLOCK_N) {
    const t1 = Math.min(t0 + BLOCK_N, end);
    loadRows(inputs.keys, inputs, seq, head, t0, t1, keyBlock);
    if (inputs.values) loadRows(inputs.values, inputs, seq, head, t0, t1, scratch.valueBlock);

    for (let r = 0; r < rows; r++) {
      const n = Math.min(t1, rowLimit[r]) - t0;
      if (n <= 0) continue;

      // Scores of this block, and their max.
      const qo = rowQuery[r];
      let blockMax = -Infinity;
      for (let k = 0; k < n; k++) {
        const s = softmaxScale * dot(q, qo, keyBlock, k * dQk, dQk);
        scores[k] = s;
        if (s > blockMax) blockMax = s;
      }

      // Rescale what was accumulated so far to the new max, then add this block.
      const oldMax = rowMax[r];
      const newMax = blockMax > oldMax ? blockMax : oldMax;
      const correction = Math.exp(oldMax - newMax);
      let blockSum = 0;
      for (let k = 0; k < n; k++) {
        const p = Math.exp(scores[k] - newMax);
        scores[k] = p;
        blockSum += p;
      }
      rowMax[r] = newMax;
      rowSum[r] = rowSum[r] * correction + blockSum;

      const ao = r * dV;
      if (correction !== 1) {
        for (let i = 0; i < dV; i++) acc[ao + i] *= correction;
      }
      for (let k = 0; k < n; k++) {
        const p = scores[k];
        const vo = k * valueStride;
        for (let i = 0; i < dV; i++) acc[ao + i] += p * values[vo + i];
      }
    }
  }

  // Normalise and store.
  const { o, oBase, lse, lseBase, emptyLse } = output;
  for (let r = 0; r < rows; r++) {
    const j = Math.floor(r / headsPerKv);
    const h = head * headsPerKv + (r % headsPerKv);
    const od = oBase + (j * hQ + h) * dV;
    const ao = r * dV;
    if (rowMax[r] === -Infinity) {
      o.fill(0, od, od + dV);
      lse[lseBase + h * sQ + j] = emptyLse;
    } else {
      const inv = 1 / rowSum[r];
      for (let i = 0; i < dV; i++) o[od + i] = acc[ao + i] * inv;
      lse[lseBase + h * sQ + j] = rowMax[r] + Math.log(rowSum[r]);
    }
  }
}

/** dot(a[ao .. ao+n), b[bo .. bo+n)), four partial sums to shorten the dependency chain. */
function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[ao + i] * b[bo + i];
    s1 += a[ao + i + 1] * b[bo + i + 1];
    s2 += a[ao + i + 2] * b[bo + i + 2];
    s3 += a[ao + i + 3] * b[bo + i + 3];
  }
  for (; i < n; i++) s0 += a[ao + i] * b[bo + i];
  return s0 + s1 + s2 + s3;
}
