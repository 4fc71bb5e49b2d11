/**
 * The naive reference for decode attention, in float64, written as directly from the definition
 * in DESIGN.md as possible: no schedule, no splits, no blocking. For every query row it gathers the
 * keys the row attends through the block table, takes the softmax of the scores and the weighted sum
 * of the values. Tests, the demo and the GPU tests check every backend against it.
 */
import type { DecodeOptions } from '../backend/backend.js';
import type { Tensor } from '../tensor.js';
import { maxOf } from '../extremes.js';

export interface ReferenceResult {
  /** [b, s_q, h_q, d_v], row-major; 0 where no key was attended. */
  readonly out: Float64Array;
  /** [b, h_q, s_q], row-major; +Infinity where no key was attended. */
  readonly lse: Float64Array;
}

/** Row `t` of sequence `seq`, KV head `head`, first `length` entries, read through the block table. */
function cachedRow(
  cache: Tensor,
  blockTable: Tensor,
  seq: number,
  t: number,
  head: number,
  length: number,
): number[] {
  const pageSize = cache.shape[1];
  const page = blockTable.get(seq, Math.floor(t / pageSize));
  const row: number[] = [];
  for (let c = 0; c < length; c++) row.push(cache.get(page, t % pageSize, head, c));
  return row;
}

function naiveDecode(
  q: Tensor,
  kCache: Tensor,
  vCache: Tensor,
  blockTable: Tensor,
  cacheSeqlens: Tensor,
  headDimV: number,
  options: DecodeOptions,
): ReferenceResult {
  const [b, sQ, hQ, dQk] = q.shape;
  const hKv = kCache.shape[2];
  const scale = options.softmaxScale ?? 1 / Math.sqrt(dQk);
  const out = new Float64Array(b * sQ * hQ * headDimV);
  const lse = new Float64Array(b * hQ * sQ);

  for (let i = 0; i < b; i++) {
    const length = cacheSeqlens.get(i);
    for (let g = 0; g < hKv; g++) {
      // Every key and value of this sequence and KV head, read once.
      const keys: number[][] = [];
      const values: number[][] = [];
      for (let t = 0; t < length; t++) {
        keys.push(cachedRow(kCache, blockTable, i, t, g, dQk));
        values.push(cachedRow(vCache, blockTable, i, t, g, headDimV));
      }
      for (let h = g * (hQ / hKv); h < (g + 1) * (hQ / hKv); h++) {
        for (let j = 0; j < sQ; j++) {
          const attended = options.causal ? Math.min(length, length - sQ + j + 1) : length;
          const query: number[] = [];
          for (let c = 0; c < dQk; c++) query.push(q.get(i, j, h, c));
          const scores: number[] = [];
          for (let t = 0; t < attended; t++) {
            let s = 0;
            for (let c = 0; c < dQk; c++) s += query[c] * keys[t][c];
            scores.push(scale * s);
          }
          const lseIndex = (i * hQ + h) * sQ + j;
          if (scores.length === 0) {
            lse[lseIndex] = Infinity; // out stays 0
            continue;
          }
          const max = maxOf(scores);
          let sum = 0;
          for (const s of scores) sum += Math.exp(s - max);
          const rowLse = max + Math.log(sum);
          lse[lseIndex] = rowLse;
          const o = ((i * sQ + j) * hQ + h) * headDimV;
          for (let t = 0; t < scores.length; t++) {
            const p = Math.exp(scores[t] - rowLse);
            for (let c = 0; c < headDimV; c++) out[o + c] += p * values[t][c];
          }
        }
      }
    }
  }
  return { out, lse };
}

/** MLA decode: the values are the first headDimV entries of each key. */
export function naiveMlaDecode(
  q: Tensor,
  kvCache: Tensor,
  blockTable: Tensor,
  cacheSeqlens: Tensor,
  headDimV: number,
  options: DecodeOptions = {},
): ReferenceResult {
  return naiveDecode(q, kvCache, kvCache, blockTable, cacheSeqlens, headDimV, options);
}

/** GQA / MHA / MQA decode with separate K and V caches. */
export function naiveGqaDecode(
  q: Tensor,
  kCache: Tensor,
  vCache: Tensor,
  blockTable: Tensor,
  cacheSeqlens: Tensor,
  options: DecodeOptions = {},
): ReferenceResult {
  return naiveDecode(q, kCache, vCache, blockTable, cacheSeqlens, vCache.shape[3], options);
}
