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
  /** The shapes the compute step model needs; a layout without them replays only under 'bandwidth'. */
  readonly compute?: ModelCompute;
}

/** What one token costs in arithmetic: the shapes behind the compute step model (step-cost.ts). */
export interface ModelCompute {
  /** Parameters one token is multiplied by: all of a dense model's, the active experts' of a mixture. */
  readonly activeParams: number;
  readonly layers: number;
  readonly queryHeads: number;
  /** Cards the weights and the query heads are split over (each still reads the whole cache). */
  readonly tensorParallel: number;
  /** Per query head and key: the width of q.k and of the value read, in decode. */
  readonly decodeHeadDims: readonly [qk: number, v: number];
  /** The same in prefill (MLA prefills in its unabsorbed form, with narrower heads). */
  readonly prefillHeadDims: readonly [qk: number, v: number];
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
  // 37e9 active of 671e9 (DeepSeek-V3 report); decode absorbs the latent (576 / 512), prefill
  // uses heads of 128 + 64 rope dims for q.k and 128 for v (the model's config.json).
  compute: {
    activeParams: 37e9,
    layers: 61,
    queryHeads: 128,
    tensorParallel: 16,
    decodeHeadDims: [576, 512],
    prefillHeadDims: [192, 128],
  },
};

export const LLAMA_3_8B: ModelLayout = {
  name: 'llama-3-8b',
  layout: 'GQA: K and V of 8 heads x 128 bf16 values per token per layer, 32 layers',
  bytesPerToken: 2 * 8 * 128 * BF16_BYTES * 32,
  maxContext: 8192,
  weightBytesPerCard: 8.03e9 * BF16_BYTES,
  deployment: '8.03e9 bf16 weights on one card',
  compute: {
    activeParams: 8.03e9,
    layers: 32,
    queryHeads: 32,
    tensorParallel: 1,
    decodeHeadDims: [128, 128],
    prefillHeadDims: [128, 128],
  },
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
