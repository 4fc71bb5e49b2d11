/**
 * The KV-cache layouts the memory study replays traces for, and the serving setup that gives each
 * its default memory budget and per-step cost.
 */

/** A GPU card's memory as sold: 80 GB (what it has beyond 80e9 bytes goes to the CUDA context and activations). */
export const CARD_BYTES = 80e9;
/** The measured device-to-device copy ceiling of the H100 (bench ceilings, 2026-11-24). */
export const DEFAULT_BANDWIDTH_BYTES_PER_S = 3004e9;

export const GIB = 2 ** 30;

export interface ModelLayout {
  readonly name: string;
  /** The cache layout in words. */
  readonly layout: string;
  /** KV-cache bytes of one token over all layers. */
  readonly bytesPerToken: number;
  /** Longest sequence (prompt + generated) the model serves; also the contiguous baseline's reservation. */
  readonly maxContext: number;
  /** Weight bytes one card holds, which the budget leaves out and every decode step reads. */
  readonly weightBytesPerCard: number;
  /** How the weights are placed, in words. */
  readonly deployment: string;
}

const BF16_BYTES = 2;

export const DEEPSEEK_V3: ModelLayout = {
  name: 'deepseek-v3',
  layout: 'MLA: one latent of 576 bf16 values per token per layer, 61 layers',
  bytesPerToken: 576 * BF16_BYTES * 61,
  maxContext: 163_840,
  weightBytesPerCard: 671e9 / 16,
  deployment:
    '671e9 FP8 weights tensor-parallel over 16 cards (2 x 8 H100); MLA has one latent KV head, ' +
    'so every card holds the whole batch cache and one card budget bounds the server',
};

export const LLAMA_3_8B: ModelLayout = {
  name: 'llama-3-8b',
  layout: 'GQA: K and V of 8 heads x 128 bf16 values per token per layer, 32 layers',
  bytesPerToken: 2 * 8 * 128 * BF16_BYTES * 32,
  maxContext: 8192,
  weightBytesPerCard: 8.03e9 * BF16_BYTES,
  deployment: '8.03e9 bf16 weights on one card',
};

export const MODEL_LAYOUTS: readonly ModelLayout[] = [DEEPSEEK_V3, LLAMA_3_8B];

/** What an 80 GB card leaves for the KV cache after the weights, in bytes. */
export function defaultBudgetBytes(model: ModelLayout): number {
  return CARD_BYTES - model.weightBytesPerCard;
}

/** Seconds one decode step costs besides reading the cache: reading the card's weights once. */
export function defaultStepOverheadSeconds(model: ModelLayout, bandwidthBytesPerS: number): number {
  return model.weightBytesPerCard / bandwidthBytesPerS;
}
