/**
 * The benchmark suites of TARGETS.md as data: the MLA rows with their targets on the H200 (those
 * that a run of this project alone can check), the GQA rows (those of bench/gqa_vs_sdpa.py), and
 * the writeKv row. FlashMLA's figures are not kept here: a comparison holds only within one run on
 * one GPU, so it is made by running both libraries side by side on the same data (the side-by-side
 * files in bench/results/).
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

/** The question a GQA row answers; the groups of bench/gqa_vs_sdpa.py, whose rows these are. */
export type GqaGroup = 'core' | 'head dim' | 'heads' | 's_q causal' | 'small batch' | 'varlen';

export interface GqaRow {
  readonly group: GqaGroup;
  readonly b: number;
  /** Cached length; with `varlen`, the mean of lengths max(round(normal(sK, sK / 2)), sQ). */
  readonly sK: number;
  /** Head dim of q, k and v. */
  readonly d: number;
  readonly hQ: number;
  readonly hKv: number;
  readonly sQ: number;
  readonly causal: boolean;
  readonly pageSize: number;
  readonly varlen: boolean;
  readonly target: string;
}

/** The core shape (Llama-3-8B-like heads); every other group changes one or two of these. */
export const GQA_DEFAULTS = {
  d: 128,
  hQ: 32,
  hKv: 8,
  sQ: 1,
  causal: false,
  b: 128,
  sK: 4096,
  varlen: false,
} as const;

/** Memory-bound decode should stream at copy speed once the cache dominates the bytes. */
export function gqaTarget(sK: number): string {
  return sK >= 4096 ? '>= 100% of copy' : '>= 90% of copy';
}

const gqaRow = (
  group: GqaGroup,
  pageSize: number,
  changes: Partial<Omit<GqaRow, 'group' | 'pageSize' | 'target'>> = {},
): GqaRow => {
  const r = { ...GQA_DEFAULTS, ...changes };
  return { group, ...r, pageSize, target: gqaTarget(r.sK) };
};

/** Each shape at page sizes 16 and 1 (the core grid at 64 too), in bench/gqa_vs_sdpa.py's order. */
const PAGES = [16, 1] as const;

export const GQA_SUITE: readonly GqaRow[] = [
  ...[16, 1, 64].flatMap((pageSize) =>
    [64, 128, 256].flatMap((b) =>
      [1024, 4096, 8192].map((sK) => gqaRow('core', pageSize, { b, sK })),
    ),
  ),
  ...[64, 256].flatMap((d) => PAGES.map((pageSize) => gqaRow('head dim', pageSize, { d }))),
  ...(
    [
      [32, 32],
      [16, 1],
      [64, 4],
      [8, 1],
    ] as const
  ).flatMap(([hQ, hKv]) => PAGES.map((pageSize) => gqaRow('heads', pageSize, { hQ, hKv }))),
  ...[2, 4].flatMap((sQ) =>
    PAGES.map((pageSize) => gqaRow('s_q causal', pageSize, { sQ, causal: true })),
  ),
  ...(
    [
      [1, 32768],
      [4, 32768],
      [16, 8192],
    ] as const
  ).flatMap(([b, sK]) => PAGES.map((pageSize) => gqaRow('small batch', pageSize, { b, sK }))),
  ...PAGES.map((pageSize) => gqaRow('varlen', pageSize, { varlen: true })),
];

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

/**
 * TFLOP/s and GB/s of one GQA decode call. The bytes are those bench/gqa_vs_sdpa.py counts: K and V
 * of every attended key, q read and out written, all 2-byte values.
 */
export function gqaRates(
  r: { b: number; sQ: number; hQ: number; hKv: number; d: number },
  meanLen: number,
  seconds: number,
): { tflops: number; gbps: number } {
  const flops = r.b * r.hQ * r.sQ * 4 * r.d * meanLen;
  const bytes = r.b * (2 * meanLen * r.hKv * r.d * 2 + 2 * r.sQ * r.hQ * r.d * 2);
  return { tflops: flops / seconds / 1e12, gbps: bytes / seconds / 1e9 };
}
