/** The simulator on random small traces: every request is accounted for, and budgets hold. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parsePolicyName } from '../../src/simulate/memory-policy.js';
import type { ModelLayout } from '../../src/simulate/model-layouts.js';
import { simulateTrace } from '../../src/simulate/simulate-trace.js';
import type { Trace } from '../../src/simulate/trace.js';
import { TINY_COMPUTE } from './tiny-trace.js';

const TINY: ModelLayout = {
  name: 'tiny',
  layout: '1 byte per token',
  bytesPerToken: 1,
  maxContext: 40,
  weightBytesPerCard: 0,
  deployment: 'none',
  compute: TINY_COMPUTE,
};

const requestsArb = fc.array(
  fc.tuple(
    fc.integer({ min: 0, max: 20 }),
    fc.integer({ min: 1, max: 25 }),
    fc.integer({ min: 0, max: 25 }),
  ),
  { minLength: 1, maxLength: 30, size: 'max' },
);

function toTrace(requests: [number, number, number][]): Trace {
  const sorted = [...requests].sort((a, b) => a[0] - b[0]);
  return {
    source: 'random',
    arrival: Float64Array.from(sorted, (r) => r[0]),
    promptTokens: Int32Array.from(sorted, (r) => r[1]),
    generatedTokens: Int32Array.from(sorted, (r) => r[2]),
  };
}

const POLICIES = [
  'contiguous-max',
  'contiguous-exact',
  'paged-1',
  'paged-3',
  'paged-8',
  'paged-3-shared',
];

test(
  'every request completes or is rejected; held memory never exceeds the budget',
  { timeout: 60_000 },
  () => {
    fc.assert(
      fc.property(
        requestsArb,
        fc.integer({ min: 45, max: 200 }),
        fc.integer({ min: 0, max: 6 }),
        fc.constantFrom<'wait' | 'preempt'>('wait', 'preempt'),
        fc.constantFrom<'compute' | 'bandwidth'>('compute', 'bandwidth'),
        fc.constantFrom(0, 1, 7),
        (requests, budget, systemPrompt, onFull, stepModel, chunkedPrefillTokens) => {
          const trace = toTrace(requests);
          const result = simulateTrace(trace, {
            model: TINY,
            policies: POLICIES.map(parsePolicyName),
            budgetBytes: budget,
            systemPromptTokens: systemPrompt,
            onFull,
            stepModel,
            chunkedPrefillTokens,
            stepOverheadSeconds: 0.01,
            bandwidthBytesPerS: 1000,
          });
          const tooLong = requests.filter(
            ([, p, g]) => systemPrompt + p + g > TINY.maxContext,
          ).length;
          assert.equal(result.rejectedTooLong, tooLong);
          for (const p of result.policies) {
            assert.equal(p.completed + p.rejectedTooLarge + tooLong, requests.length, p.policy);
            assert.ok(p.memory.peakBytes <= p.capacityBytes && p.capacityBytes <= budget, p.policy);
            assert.ok(p.memory.meanUnusedBytes >= 0 && p.memory.meanFragmentedBytes >= 0, p.policy);
            assert.ok(
              p.queueDelaySeconds.p50 >= 0 && p.queueDelaySeconds.p99 >= p.queueDelaySeconds.p50,
            );
            if (p.rejectedTooLarge === 0) {
              const generated = requests
                .filter(([, pr, g]) => systemPrompt + pr + g <= TINY.maxContext)
                .reduce((a, [, , g]) => a + g, 0);
              assert.equal(p.decode.tokens, generated, p.policy);
            }
            if (!p.policy.endsWith('shared')) {
              // Without sharing every token has its own slot.
              assert.ok(p.memory.meanTokenBytes <= p.memory.meanBytes + 1e-9, p.policy);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  },
);

test('with memory to spare, paging and exact reservation run the same schedule; pages of 1 waste nothing', () => {
  fc.assert(
    fc.property(requestsArb, (requests) => {
      const result = simulateTrace(toTrace(requests), {
        model: TINY,
        policies: ['contiguous-exact', 'paged-1', 'paged-4'].map(parsePolicyName),
        budgetBytes: 10_000,
        stepOverheadSeconds: 0.01,
        bandwidthBytesPerS: 1000,
      });
      const [exact, page1, page4] = result.policies;
      for (const p of [page1, page4]) {
        assert.equal(p.steps, exact.steps);
        assert.deepEqual(p.running, exact.running);
        assert.deepEqual(p.queueDelaySeconds, exact.queueDelaySeconds);
        assert.equal(p.decode.tokensPerSecond, exact.decode.tokensPerSecond);
      }
      assert.ok(Math.abs(page1.memory.meanBytes - page1.memory.meanTokenBytes) < 1e-9);
      assert.ok(page1.memory.meanBytes <= page4.memory.meanBytes + 1e-9);
      assert.ok(page1.memory.meanBytes <= exact.memory.meanBytes + 1e-9);
      assert.equal(page1.memory.meanUnusedBytes, 0);
    }),
    { numRuns: 150 },
  );
});
