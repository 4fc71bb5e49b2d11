/**
 * Tiny hand-made traces for the simulator's tests. The model has 1 byte per token so that bytes
 * and token slots are the same numbers; `run` replays under the bandwidth step model, where steps
 * cost 1 s plus 1 s per cached token over a bandwidth of 1e30 (nothing) unless a test says otherwise.
 */
import assert from 'node:assert/strict';
import { parsePolicyName } from '../../src/simulate/memory-policy.js';
import type { ModelCompute, ModelLayout } from '../../src/simulate/model-layouts.js';
import { simulateTrace, type SimulationOptions } from '../../src/simulate/simulate-trace.js';
import type { Trace } from '../../src/simulate/trace.js';

// 1 FLOP a token in the linear layers (2 x 0.5), 4 a query-key pair (2 x 1 head x (1 + 1)).
export const TINY_COMPUTE: ModelCompute = {
  activeParams: 0.5,
  layers: 1,
  queryHeads: 1,
  tensorParallel: 1,
  decodeHeadDims: [1, 1],
  prefillHeadDims: [1, 1],
};

export const TINY: ModelLayout = {
  name: 'tiny',
  layout: '1 byte per token',
  bytesPerToken: 1,
  maxContext: 100,
  weightBytesPerCard: 0,
  deployment: 'none',
  compute: TINY_COMPUTE,
};

/** Every phase at its ceiling, and 1e6 FLOP/s (tests set their own rate). */
export const UNIT_RATES = {
  matmulFlopsPerS: 1e6,
  linearFlopsEfficiency: 1,
  weightBytesEfficiency: 1,
  attentionFlopsEfficiency: 1,
  attentionBytesEfficiency: 1,
};

/** Requests as [arrival s, prompt tokens, generated tokens]. */
export function trace(requests: [number, number, number][]): Trace {
  return {
    source: 'hand-made',
    arrival: Float64Array.from(requests, (r) => r[0]),
    promptTokens: Int32Array.from(requests, (r) => r[1]),
    generatedTokens: Int32Array.from(requests, (r) => r[2]),
  };
}

export function run(
  requests: [number, number, number][],
  policy: string,
  options: Partial<SimulationOptions> = {},
) {
  const result = simulateTrace(trace(requests), {
    model: TINY,
    policies: [parsePolicyName(policy)],
    stepModel: 'bandwidth',
    stepOverheadSeconds: 1,
    bandwidthBytesPerS: 1e30,
    ...options,
  });
  return result.policies[0];
}

export function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: expected ${expected}, got ${actual}`);
}

/**
 * `run` under the compute step model with no fixed cost, bytes free (1e30 B/s) and 4 FLOP/s at
 * full efficiency: a step costs tokens / 4 s (linear), plus keys attended in decode, plus
 * query-key pairs in prefill (4 FLOPs each at 4 FLOP/s: 1 s).
 */
export function runCompute(
  requests: [number, number, number][],
  policy: string,
  options: Partial<SimulationOptions> = {},
) {
  return run(requests, policy, {
    stepModel: 'compute',
    stepOverheadSeconds: 0,
    ...options,
    stepRates: { ...UNIT_RATES, matmulFlopsPerS: 4, ...options.stepRates },
  });
}
