/**
 * The KV-cache layouts the memory study replays traces for, their bytes per token in each cache
 * dtype (kvFormat, from the shapes), and the serving setup that gives each its default memory
 * budget and per-step cost.
 */
import { dtypeBytes } from '../dtype.js';
import { ArgumentError } from '../errors.js';
import { DS_MLA_GROUP_SIZE } from '../fp8/ds-mla-token.js';

/** A GPU card's memory as sold: 80 GB (what it has beyond 80e9 bytes goes to the CUDA context and activations). */
export const CARD_BYTES = 80e9;
/** The measured device-to-device copy ceiling of the H100 (bench ceilings, 2026-11-24). */
export const DEFAULT_BANDWIDTH_BYTES_PER_S = 3004e9;

export const GIB = 2 ** 30;

export interface ModelLayout {
  readonly name: string;
  /** The cache layout in words. */
  readonly layout: string;
  /** KV-cache bytes of one token over all layers, in bf16 (the layout's own dtype without `kv`). */
  readonly bytesPerToken: number;
  /** Longest sequence (prompt + generated) the model serves; also the contiguous baseline's reservation. */
  readonly maxContext: number;
  /** Weight bytes one card holds, which the budget leaves out and every decode step reads. */
  readonly weightBytesPerCard: number;
  /** How the weights are placed, in words. */
  readonly deployment: string;
  /** The shapes the compute step model needs; a layout without them replays only under 'bandwidth'. */
  readonly compute?: ModelCompute;
  /** The cache's shapes, which give its bytes in each dtype; a layout without them replays only in bf16. */
  readonly kv?: KvShape;
}

/** The cache's dtype: bf16, or fp8 in the format of docs/fp8-kv-cache.md that fits the layout. */
export type KvDtype = 'bf16' | 'fp8';
export const KV_DTYPES: readonly KvDtype[] = ['bf16', 'fp8'];

/**
 * What one token stores per layer. `mla`: one latent of `latentDims` + `ropeDims` values (its fp8
 * format is FlashMLA's fp8_ds_mla). `gqa`: K and V of `kvHeads` heads of `headDim` values (MHA and
 * MQA are its cases; its fp8 format is fp8_e4m3 with one scale per cache tensor).
 */
export type KvShape =
  | {
      readonly kind: 'mla';
      readonly latentDims: number;
      readonly ropeDims: number;
      readonly layers: number;
    }
  | {
      readonly kind: 'gqa';
      readonly kvHeads: number;
      readonly headDim: number;
      readonly layers: number;
    };

/** A cache in one dtype: its bytes per token, its bytes that no token owns, and the layout in words. */
export interface KvFormat {
  readonly dtype: KvDtype;
  /** Over all layers. */
  readonly bytesPerToken: number;
  /** Bytes the cache holds whatever its length (fp8_e4m3's per-tensor scales), over all layers. */
  readonly fixedBytes: number;
  readonly layout: string;
}

const BF16_BYTES = dtypeBytes('bfloat16');
const FP8_BYTES = dtypeBytes('float8_e4m3fn');
const FLOAT32_BYTES = dtypeBytes('float32');

/**
 * The cache of `shape` in `dtype`, in the formats of docs/fp8-kv-cache.md for fp8 (`shape` and
 * `dtype` as checkModel and checkKvDtype accept them).
 */
export function kvFormat(shape: KvShape, dtype: KvDtype, argument = 'model.kv'): KvFormat {
  const layers = shape.layers;
  if (shape.kind === 'mla') {
    const { latentDims: latent, ropeDims: rope } = shape;
    if (dtype === 'bf16') {
      return {
        dtype,
        bytesPerToken: (latent + rope) * BF16_BYTES * layers,
        fixedBytes: 0,
        layout: `MLA: one latent of ${latent + rope} bf16 values per token per layer, ${layers} layers`,
      };
    }
    if (latent % DS_MLA_GROUP_SIZE !== 0) {
      throw new ArgumentError(
        `${argument}.latentDims`,
        `a multiple of ${DS_MLA_GROUP_SIZE} for kvDtype 'fp8' (fp8_ds_mla scales groups of ${DS_MLA_GROUP_SIZE})`,
        String(latent),
      );
    }
    // fp8_ds_mla's row: the latent in e4m3, a float32 scale per group of it, the rope part in bf16.
    const scales = latent / DS_MLA_GROUP_SIZE;
    const row = latent * FP8_BYTES + scales * FLOAT32_BYTES + rope * BF16_BYTES;
    return {
      dtype,
      bytesPerToken: row * layers,
      fixedBytes: 0,
      layout:
        `MLA in fp8_ds_mla: ${latent} fp8 e4m3 latent values, ${scales} float32 scales and ` +
        `${rope} bf16 rope values (${row} bytes) per token per layer, ${layers} layers`,
    };
  }
  const { kvHeads: heads, headDim: d } = shape;
  const fp8 = dtype === 'fp8';
  const bytesPerToken = 2 * heads * d * (fp8 ? FP8_BYTES : BF16_BYTES) * layers;
  const values =
    `K and V of ${heads} heads x ${d} ${fp8 ? 'fp8 e4m3' : 'bf16'} values per token per layer, ` +
    `${layers} layers`;
  if (!fp8) return { dtype, bytesPerToken, fixedBytes: 0, layout: `GQA: ${values}` };
  // fp8_e4m3 scales whole tensors: one float32 descaleK and one descaleV, for each layer's caches.
  const fixedBytes = 2 * FLOAT32_BYTES * layers;
  return {
    dtype,
    bytesPerToken,
    fixedBytes,
    layout:
      `GQA in fp8_e4m3: ${values}, and one float32 scale per layer's K cache and V cache ` +
      `(${fixedBytes} bytes in all)`,
  };
}

/**
 * The cache of `model` in `dtype`: in bf16 the model's own bytesPerToken and layout (checkModel
 * holds them to its shapes, when it has them); in fp8 what its shapes (`kv`) give.
 */
export function modelKvFormat(model: ModelLayout, dtype: KvDtype): KvFormat {
  if (dtype !== 'bf16' && model.kv !== undefined) return kvFormat(model.kv, dtype);
  if (dtype !== 'bf16') {
    throw new ArgumentError(
      'model.kv',
      `the cache's shapes (KvShape) for kvDtype '${dtype}', or kvDtype 'bf16'`,
      'undefined',
    );
  }
  return { dtype, bytesPerToken: model.bytesPerToken, fixedBytes: 0, layout: model.layout };
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

// 512 latent and 64 rope dims (kv_lora_rank, qk_rope_head_dim of the model's config.json).
/** A layout's bf16 cache: its description and bytes per token, both from its shapes. */
function bf16Bytes(kv: KvShape): Pick<ModelLayout, 'layout' | 'bytesPerToken'> {
  const { layout, bytesPerToken } = kvFormat(kv, 'bf16');
  return { layout, bytesPerToken };
}

const DEEPSEEK_V3_KV: KvShape = { kind: 'mla', latentDims: 512, ropeDims: 64, layers: 61 };

export const DEEPSEEK_V3: ModelLayout = {
  name: 'deepseek-v3',
  ...bf16Bytes(DEEPSEEK_V3_KV),
  maxContext: 163_840,
  weightBytesPerCard: 671e9 / 16,
  deployment:
    '671e9 FP8 weights tensor-parallel over 16 cards (2 x 8 H100); MLA has one latent KV head, ' +
    'so every card holds the whole batch cache and one card budget bounds the server',
  // 37e9 active of 671e9 (DeepSeek-V3 report); decode absorbs the latent (576 / 512), prefill
  // uses heads of 128 + 64 rope dims for q.k and 128 for v (the model's config.json).
  compute: {
    activeParams: 37e9,
    layers: DEEPSEEK_V3_KV.layers,
    queryHeads: 128,
    tensorParallel: 16,
    decodeHeadDims: [576, 512],
    prefillHeadDims: [192, 128],
  },
  kv: DEEPSEEK_V3_KV,
};

const LLAMA_3_8B_KV: KvShape = { kind: 'gqa', kvHeads: 8, headDim: 128, layers: 32 };

export const LLAMA_3_8B: ModelLayout = {
  name: 'llama-3-8b',
  ...bf16Bytes(LLAMA_3_8B_KV),
  maxContext: 8192,
  weightBytesPerCard: 8.03e9 * BF16_BYTES,
  deployment: '8.03e9 bf16 weights on one card',
  compute: {
    activeParams: 8.03e9,
    layers: LLAMA_3_8B_KV.layers,
    queryHeads: 32,
    tensorParallel: 1,
    decodeHeadDims: [128, 128],
    prefillHeadDims: [128, 128],
  },
  kv: LLAMA_3_8B_KV,
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
