/**
 * Tiny hand-made traces for the simulator's tests. The model has 1 byte per token so that bytes
 * and token slots are the same numbers; steps cost 1 s plus 1 s per cached token over a bandwidth
 * of 1e30 (nothing) unless a test says otherwise.
 */
import assert from 'node:assert/strict';
import { parsePolicyName } from '../../src/simulate/memory-policy.js';
import type { ModelLayout } from '../../src/simulate/model-layouts.js';
import { simulateTrace, type SimulationOptions } from '../../src/simulate/simulate-trace.js';
import type { Trace } from '../../src/simulate/trace.js';

export const TINY: ModelLayout = {
  name: 'tiny',
  layout: '1 byte per token',
  bytesPerToken: 1,
  maxContext: 100,
  weightBytesPerCard: 0,
  deployment: 'none',
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
    stepOverheadSeconds: 1,
    bandwidthBytesPerS: 1e30,
    ...options,
  });
  return result.policies[0];
}

export function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: expected ${expected}, got ${actual}`);
}
