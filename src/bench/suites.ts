/**
 * The benchmark suites of TARGETS.md as data: the MLA rows with their targets on the H200 (those
 * that a run of this project alone can check), and the GQA and writeKv rows. FlashMLA's figures are
 * not kept here: a comparison holds only within one run on one GPU, so it is made by running both
 * libraries side by side on the same data (the side-by-side files in bench/results/).
 */

export interface MlaRow {
  readonly b: number;
  readonly sQ: number;
  /** Mean cached length; with `varlen`, lengths are max(round(normal(sK, sK / 2)), sQ). */
  readonly sK: number;
  readonly hQ: number;
  readonly varlen: boolean;
  readonly causal: boolean;
  /** Explicit lengths (the imbalanced row); overrides sK / varlen. */
  readonly lengths?: readonly number[];
  readonly target: string;
}

const row = (
  b: number,
  sQ: number,
  sK: number,
  hQ: number,
  varlen: boolean,
  causal: boolean,
  target: string,
): MlaRow => ({ b, sQ, sK, hQ, varlen, causal, target });

export const MLA_ANCHOR: readonly MlaRow[] = [
  row(128, 1, 4096, 128, true, false, '>= 700 TFLOP/s'),
  row(128, 1, 8192, 128, true, false, '>= 700 TFLOP/s'),
  row(128, 1, 16384, 128, true, false, '>= 700 TFLOP/s'),
  row(128, 1, 32768, 128, true, false, '>= 700 TFLOP/s'),
  row(128, 2, 4096, 128, true, true, '>= 700 TFLOP/s'),
  row(128, 2, 8192, 128, true, true, '>= 700 TFLOP/s'),
  row(128, 2, 16384, 128, true, true, '>= 700 TFLOP/s'),
  row(128, 2, 32768, 128, true, true, '>= 700 TFLOP/s'),
  row(128, 1, 4096, 16, true, false, '>= 90% of copy'),
  row(128, 1, 8192, 16, true, false, '>= 100% of copy'),
  row(128, 1, 16384, 16, true, false, '>= 100% of copy'),
  row(128, 1, 4096, 32, true, false, '>= 90% of copy'),
  row(128, 1, 8192, 32, true, false, '>= 100% of copy'),
  row(128, 1, 16384, 32, true, false, '>= 100% of copy'),
  row(1, 1, 32768, 128, false, false, '<= 25 us'),
  row(4, 1, 32768, 128, false, false, '<= 60 us'),
  row(16, 1, 32768, 128, false, false, '<= 215 us'),
  row(1, 1, 32768, 16, false, false, '<= 18 us'),
  row(4, 1, 32768, 16, false, false, '<= 40 us'),
  row(16, 1, 32768, 16, false, false, '<= 160 us'),
  { ...row(4, 4, 13296, 16, false, true, '<= 28 us'), lengths: [4641, 45118, 1730, 1696] },
];

export const MLA_DIMS = { dQk: 576, dV: 512, hKv: 1, pageSize: 64 } as const;

export interface GqaRow {
  readonly b: number;
  readonly sK: number;
}

/** GQA decode: h_q = 32, h_kv = 8, d = 128, page size 16, s_q = 1, varlen; target >= 90% of copy. */
export const GQA_DIMS = { hQ: 32, hKv: 8, d: 128, pageSize: 16, sQ: 1 } as const;
export const GQA_SUITE: readonly GqaRow[] = [64, 128, 256].flatMap((b) =>
  [1024, 4096, 8192].map((sK) => ({ b, sK })),
);

/** writeKv: 4096 MLA latent rows (576 bf16) per call into a page-size-64 cache; >= 85% of copy. */
export const WRITE_KV_DIMS = { tokens: 4096, hKv: 1, d: 576, pageSize: 64 } as const;

/** TFLOP/s and GB/s of one MLA decode call, exactly as TARGETS.md defines them. */
export function mlaRates(
  r: { b: number; sQ: number; hQ: number },
  meanLen: number,
  seconds: number,
): { tflops: number; gbps: number } {
  const { dQk, dV, hKv } = MLA_DIMS;
  const flops = r.b * r.hQ * r.sQ * (2 * dQk + 2 * dV) * meanLen;
  const bytes = r.b * (r.sQ * r.hQ * dQk * 2 + meanLen * hKv * dQk * 2 + r.sQ * r.hQ * dV * 2);
  return { tflops: flops / seconds / 1e12, gbps: bytes / seconds / 1e9 };
}
