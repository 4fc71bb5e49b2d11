/**
 * The ceilings and efficiency fractions of the compute step model, each with its source. The
 * ceilings were measured by this project on an H200, in
 * bench/results/side-by-side-NVIDIA-H200-2026-11-29-43e77b5-bf16.json (copied here, never read at
 * run time, so that the replay does not depend on a results file).
 */

/** `copy_gbps` of that file: 4122.42 GB/s device-to-device copy. */
export const H200_COPY_BYTES_PER_S = 4122.42e9;
/** `matmul_tflops` of that file: 755.62 TFLOP/s, a bf16 matrix multiply (no FP8 rate is measured). */
export const H200_MATMUL_FLOPS_PER_S = 755.62e12;

/**
 * Decode attention's bytes: 82.6% of copy, this project's MLA kernel in that file's memory-bound
 * page sweep at h_q 16 and 16-token pages (`page_sweep`, 82.65%).
 */
export const ATTENTION_BYTES_EFFICIENCY = 0.826;
/**
 * Attention's arithmetic: 66.9% of the matrix rate, this project's MLA kernel in that file's
 * compute-bound row (b 128, s_q 1, s_k 32768, h_q 128: 505.73 TFLOP/s). Prefill attention is
 * assumed to reach the same fraction (no prefill kernel is measured).
 */
export const ATTENTION_FLOPS_EFFICIENCY = 0.669;
/** Linear layers' arithmetic: assumed 80% of the measured matrix rate (their shapes vary per step). */
export const LINEAR_FLOPS_EFFICIENCY = 0.8;
/** Reading the weights: assumed the attention kernel's fraction of copy (no weight stream is measured). */
export const WEIGHT_BYTES_EFFICIENCY = ATTENTION_BYTES_EFFICIENCY;

/** The rates a compute step runs at. */
export interface StepRates {
  readonly matmulFlopsPerS: number;
  readonly copyBytesPerS: number;
  readonly linearFlopsEfficiency: number;
  readonly weightBytesEfficiency: number;
  readonly attentionFlopsEfficiency: number;
  readonly attentionBytesEfficiency: number;
}

export const H200_STEP_RATES: StepRates = {
  matmulFlopsPerS: H200_MATMUL_FLOPS_PER_S,
  copyBytesPerS: H200_COPY_BYTES_PER_S,
  linearFlopsEfficiency: LINEAR_FLOPS_EFFICIENCY,
  weightBytesEfficiency: WEIGHT_BYTES_EFFICIENCY,
  attentionFlopsEfficiency: ATTENTION_FLOPS_EFFICIENCY,
  attentionBytesEfficiency: ATTENTION_BYTES_EFFICIENCY,
};
