/** GQA decode problems the GPU tests share (bf16 and e4m3 caches): small enough for the CPU reference. */
import type { GqaProblemOptions } from '../../src/testing/problems.js';

export interface GqaCase extends Omit<GqaProblemOptions, 'seed'> {
  readonly causal: boolean;
}

/** Head dims 64 / 128 / 256, pages 1 / 7 / 16 / 64, s_q 1-4 causal, MQA to MHA, fp16, empty sequences. */
export const SMALL_GQA_CASES: readonly GqaCase[] = [
  { b: 4, sK: 300, varlen: true, sQ: 1, hQ: 32, hKv: 8, d: 128, pageSize: 16, causal: false },
  { b: 3, sK: 200, varlen: true, sQ: 2, hQ: 8, hKv: 8, d: 64, pageSize: 1, causal: true },
  { b: 3, sK: 500, varlen: true, sQ: 3, hQ: 16, hKv: 1, d: 256, pageSize: 64, causal: true },
  { b: 2, sK: 300, varlen: true, sQ: 4, hQ: 32, hKv: 4, d: 128, pageSize: 7, causal: true },
  {
    b: 2,
    sK: 100,
    varlen: true,
    sQ: 1,
    hQ: 16,
    hKv: 2,
    d: 64,
    pageSize: 16,
    causal: false,
    dtype: 'float16',
  },
  { seqlens: [0, 50, 0, 3], sQ: 4, hQ: 8, hKv: 2, d: 128, pageSize: 16, causal: true },
];
