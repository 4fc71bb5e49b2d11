/**
 * What a server step costs in time, under one of two models:
 * - `bandwidth`: a fixed time plus the KV-cache bytes the step reads over the bandwidth (no
 *   arithmetic: a prefill, and so a preemption's recompute, costs only the bytes it stores).
 * - `compute`: three phases, each as slow as the slower of its arithmetic and its memory traffic,
 *   max(FLOPs / (matrix rate x efficiency), bytes / (copy rate x efficiency)), added up:
 *   the linear layers (2 x active parameters FLOPs per token processed, decode and prefill; the
 *   card's weights read once for the whole batch), decode attention (2 x heads x (d_qk + d_v) FLOPs
 *   and one token's cache bytes per layer per key attended) and prefill attention (the same per
 *   query-key pair of the causal prompt: P new tokens after C present attend P x C + P (P + 1) / 2).
 * Everything is per card: tensor parallelism splits weights and heads, never the MLA cache. A
 * token's cache bytes are those of the cache's dtype (an fp8 cache reads fewer); the arithmetic runs
 * at the bf16 matrix rate whatever the dtype (an fp8 cache is dequantized to bf16 before the tensor
 * cores, and no FP8 matrix rate is modelled).
 */
import type { ModelCompute, ModelLayout } from './model-layouts.js';
import type { StepRates } from './step-rates.js';

export type StepModel = 'compute' | 'bandwidth';

/** What one step did, as the replay counts it. */
export interface StepWork {
  /** Tokens in the cache of every running request. */
  readonly cachedTokens: number;
  /** Requests that decoded a token, and the keys they attended (their lengths, the new token in). */
  readonly decodeTokens: number;
  readonly decodeKeys: number;
  /** Prompt tokens computed, their causal query-key pairs, and the keys they read or wrote. */
  readonly prefillTokens: number;
  readonly prefillPairs: number;
  readonly prefillKeys: number;
}

export type StepCost = (work: StepWork) => number;

export function bandwidthStepCost(
  bytesPerToken: number,
  bandwidthBytesPerS: number,
  overheadSeconds: number,
): StepCost {
  return (w) => overheadSeconds + (w.cachedTokens * bytesPerToken) / bandwidthBytesPerS;
}

/** The slower of a phase's arithmetic and its memory traffic. */
function phase(flops: number, flopsPerS: number, bytes: number, bytesPerS: number): number {
  return Math.max(flops / flopsPerS, bytes / bytesPerS);
}

/** Attention FLOPs per query-key pair on one card, all layers. */
function flopsPerPair(c: ModelCompute, [qk, v]: readonly [number, number]): number {
  return 2 * (c.queryHeads / c.tensorParallel) * (qk + v) * c.layers;
}

/** `bytesPerToken`: the cache's, in its dtype (default: the model's bf16 bytes). */
export function computeStepCost(
  model: ModelLayout & { compute: ModelCompute },
  rates: StepRates,
  overheadSeconds: number,
  bytesPerToken: number = model.bytesPerToken,
): StepCost {
  const c = model.compute;
  const linearFlopsPerToken = (2 * c.activeParams) / c.tensorParallel;
  const decodeFlopsPerKey = flopsPerPair(c, c.decodeHeadDims);
  const prefillFlopsPerPair = flopsPerPair(c, c.prefillHeadDims);
  const linearRate = rates.matmulFlopsPerS * rates.linearFlopsEfficiency;
  const weightRate = rates.copyBytesPerS * rates.weightBytesEfficiency;
  const attentionRate = rates.matmulFlopsPerS * rates.attentionFlopsEfficiency;
  const cacheRate = rates.copyBytesPerS * rates.attentionBytesEfficiency;
  const bpt = bytesPerToken;
  return (w) => {
    const tokens = w.decodeTokens + w.prefillTokens;
    const linear = phase(
      linearFlopsPerToken * tokens,
      linearRate,
      model.weightBytesPerCard,
      weightRate,
    );
    const decode = phase(
      decodeFlopsPerKey * w.decodeKeys,
      attentionRate,
      w.decodeKeys * bpt,
      cacheRate,
    );
    const prefill = phase(
      prefillFlopsPerPair * w.prefillPairs,
      attentionRate,
      w.prefillKeys * bpt,
      cacheRate,
    );
    return overheadSeconds + linear + decode + prefill;
  };
}
