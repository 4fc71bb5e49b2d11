/**
 * The benchmark suites of TARGETS.md as data: each MLA row with FlashMLA's figures measured on the
 * same H100 (the April 2025 release, bf16), and the GQA and writeKv rows.
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
  readonly flashMla: { readonly us: number; readonly tflops: number; readonly gbps: number };
  readonly target: string;
}

const row = (
  b: number,
  sQ: number,
  sK: number,
  hQ: number,
  varlen: boolean,
  causal: boolean,
  us: number,
  tflops: number,
  gbps: number,
  target: string,
): MlaRow => ({ b, sQ, sK, hQ, varlen, causal, flashMla: { us, tflops, gbps }, target });

export const MLA_ANCHOR: readonly MlaRow[] = [
  row(128, 1, 4096, 128, true, false, 319, 459, 2012, '>= 620 TFLOP/s'),
  row(128, 1, 8192, 128, true, false, 576, 533, 2268, '>= 640 TFLOP/s'),
  row(128, 1, 16384, 128, true, false, 997, 574, 2410, '>= 650 TFLOP/s'),
  row(128, 1, 32768, 128, true, false, 1985, 595, 2479, '>= 650 TFLOP/s'),
  row(128, 2, 4096, 128, true, true, 505, 599, 1380, '>= 650 TFLOP/s'),
  row(128, 2, 8192, 128, true, true, 867, 671, 1469, '>= 680 TFLOP/s'),
  row(128, 2, 16384, 128, true, true, 1841, 662, 1407, '>= 680 TFLOP/s'),
  row(128, 2, 32768, 128, true, true, 3782, 637, 1337, '>= 680 TFLOP/s'),
  row(128, 1, 4096, 16, true, false, 250, 73, 2434, '>= 92% of copy'),
  row(128, 1, 8192, 16, true, false, 449, 78, 2575, '>= 92% of copy'),
  row(128, 1, 16384, 16, true, false, 842, 83, 2754, '>= 92% of copy'),
  row(128, 1, 4096, 32, true, false, 282, 139, 2326, '>= 92% of copy'),
  row(128, 1, 8192, 32, true, false, 471, 148, 2468, '>= 92% of copy'),
  row(128, 1, 16384, 32, true, false, 930, 162, 2690, '>= 92% of copy'),
  row(1, 1, 32768, 128, false, false, 92, 99, 413, '<= 30 us'),
  row(4, 1, 32768, 128, false, false, 110, 333, 1388, '<= 65 us'),
  row(16, 1, 32768, 128, false, false, 286, 511, 2130, '<= 240 us'),
  row(1, 1, 32768, 16, false, false, 98, 12, 385, '<= 25 us'),
  row(4, 1, 32768, 16, false, false, 106, 43, 1430, '<= 60 us'),
  row(16, 1, 32768, 16, false, false, 248, 74, 2442, '<= 215 us'),
  {
    ...row(4, 4, 13296, 16, false, true, 52, 144, 1199, '<= 32 us'),
    lengths: [4641, 45118, 1730, 1696],
  },
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
