/**
 * The GQA decode shapes both backends are checked on against the float64 reference: every head dim,
 * page size, head grouping (MHA, GQA, MQA) and s_q (4 causal) the kernels specialise on, in bf16,
 * and a float16 case per head dim. Batches are small (b 2-3, s_k ~150-400) so the reference is fast.
 */
import type { GqaProblemOptions } from '../src/testing/problems.js';
import { Random } from '../src/testing/random.js';

export interface GqaShape extends GqaProblemOptions {
  readonly name: string;
  readonly causal: boolean;
}

const HEADS = [
  [8, 8, 'MHA'],
  [16, 4, 'GQA'],
  [16, 1, 'MQA'],
] as const;

function shape(
  rng: Random,
  seed: number,
  d: number,
  pageSize: number,
  [hQ, hKv, kind]: (typeof HEADS)[number],
  sQ: number,
  dtype: 'bfloat16' | 'float16',
): GqaShape {
  const b = rng.int(2, 4);
  const sK = rng.int(150, 401);
  const causal = sQ > 1;
  return {
    name:
      `d ${d}, page ${pageSize}, ${kind} ${hQ}/${hKv}, s_q ${sQ}${causal ? ' causal' : ''}, ` +
      `b ${b}, s_k ~${sK}, ${dtype}`,
    b,
    sK,
    varlen: true,
    sQ,
    hQ,
    hKv,
    d,
    pageSize,
    causal,
    dtype,
    seed,
  };
}

function matrix(): GqaShape[] {
  const rng = new Random(31);
  const shapes: GqaShape[] = [];
  for (const d of [64, 128, 256]) {
    for (const pageSize of [1, 16, 64]) {
      for (const heads of HEADS) {
        for (const sQ of [1, 4]) {
          shapes.push(shape(rng, 3000 + shapes.length, d, pageSize, heads, sQ, 'bfloat16'));
        }
      }
    }
  }
  // float16 takes the same code paths with another conversion: one case per head dim suffices.
  const half: [number, number, (typeof HEADS)[number], number][] = [
    [64, 16, HEADS[1], 4],
    [128, 1, HEADS[0], 1],
    [256, 64, HEADS[2], 4],
  ];
  for (const [d, pageSize, heads, sQ] of half) {
    shapes.push(shape(rng, 3000 + shapes.length, d, pageSize, heads, sQ, 'float16'));
  }
  return shapes;
}

export const GQA_SHAPE_MATRIX: readonly GqaShape[] = matrix();
