/**
 * Prefix-cache policies in whole replays: 512-token blocks on a hand-made trace, and on a trace
 * without block ids the very figures of the same pages without a cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ArgumentError } from '../../src/errors.js';
import { parsePolicyName } from '../../src/simulate/memory-policy.js';
import { MODEL_LAYOUTS } from '../../src/simulate/model-layouts.js';
import { formatScenario } from '../../src/simulate/report-table.js';
import { simulateTrace } from '../../src/simulate/simulate-trace.js';
import { readTrace, type Trace } from '../../src/simulate/trace.js';
import { near, TINY, UNIT_RATES } from './tiny-trace.js';

const MODEL = { ...TINY, maxContext: 4096 };
const OPTIONS = {
  model: MODEL,
  budgetBytes: 16384,
  stepModel: 'bandwidth' as const,
  stepOverheadSeconds: 1,
  bandwidthBytesPerS: 1e30,
};

// [arrival s, prompt tokens, generated tokens, block ids]
const REQUESTS: [number, number, number, number[]][] = [
  [0, 1024, 2, [7, 8]],
  [10, 1100, 2, [7, 8, 9]], // both of r0's blocks, cached though r0 has ended
  [20, 600, 1, [8, 3]], // id 8 at another position: no match
];

const HAND_MADE: Trace = {
  source: 'hand-made',
  arrival: Float64Array.from(REQUESTS, (r) => r[0]),
  promptTokens: Int32Array.from(REQUESTS, (r) => r[1]),
  generatedTokens: Int32Array.from(REQUESTS, (r) => r[2]),
  hashIds: REQUESTS.map((r) => Int32Array.from(r[3])),
};

test('a replay shares cached blocks and counts idle ones out of the memory held', () => {
  const s = simulateTrace(HAND_MADE, {
    ...OPTIONS,
    policies: [parsePolicyName('paged-16'), parsePolicyName('paged-16-prefix')],
  });
  const [plain, cached] = s.policies;
  // Stored: r0's 2 blocks, r2's 1 (r1 hits both of its whole blocks; its last 76 tokens are its own).
  assert.deepEqual(cached.prefix, {
    promptTokens: 2724,
    hitTokens: 1024,
    hitRate: 1024 / 2724,
    blocksStored: 3,
    blocksEvicted: 0,
  });
  // Peak under both: r1's 1,100 tokens in 69 pages of 16 (64 of them shared blocks under the cache).
  assert.equal(plain.memory.peakBytes, 1104);
  assert.equal(cached.memory.peakBytes, 1104);
  // r2 alone: 1 block (32 pages) + 88 tokens (6 pages) = 608 slots, r0's idle blocks not counted.
  near(cached.series.memoryBytes.at(-1)!, 608, 'last bucket, paged-16-prefix');
  near(plain.series.memoryBytes.at(-1)!, 608, 'last bucket, paged-16');
  // The bandwidth step model charges no prefill, so a hit saves memory only: latency is the same.
  assert.deepEqual(cached.latency, plain.latency);
  assert.match(formatScenario(s), /\| paged-16-prefix \| 37\.6% \| 3 \/ 0 \|/);
});

test('under the compute step model a hit also saves its prefill', () => {
  // 1e6 FLOP/s at full efficiency, bytes free: a step is (tokens + 4 x query-key pairs) / 1e6 s.
  // r0: prefill 1,024 + 4 x 524,800 = 2,100,224 FLOPs, decode 1 + 4 x 1,025: TTFT 2.104325 s.
  // r1 plain: prefill 1,100 + 4 x 605,550, decode 1 + 4 x 1,101: TTFT 2.427705 s. Cached, it
  // computes its last 76 tokens after 1,024 shared: 76 + 4 x (76 x 1,024 + 76 x 77 / 2) = 323,076
  // FLOPs: TTFT 0.327481 s. r2 (no hit): 600 + 4 x 180,300, then 1 + 4 x 601: TTFT 0.724205 s.
  const s = simulateTrace(HAND_MADE, {
    ...OPTIONS,
    stepModel: 'compute',
    stepOverheadSeconds: 0,
    stepRates: UNIT_RATES,
    policies: [parsePolicyName('paged-16'), parsePolicyName('paged-16-prefix')],
  });
  const [plain, cached] = s.policies;
  near(plain.latency.ttftSeconds.p50, 2.104325, 'plain p50 (r0)');
  near(plain.latency.ttftSeconds.p99, 2.427705, 'plain p99 (r1)');
  near(cached.latency.ttftSeconds.p50, 0.724205, 'cached p50 (r2)');
  near(cached.latency.ttftSeconds.p99, 2.104325, 'cached p99 (r0)');
});

test('without block ids, a prefix-cache policy replays exactly as the same pages without one', () => {
  const trace = readTrace(
    fileURLToPath(
      new URL(
        '../../../test/simulate/fixtures/azure-llm-inference-2023-conv-first200.csv',
        import.meta.url,
      ),
    ),
  );
  for (const model of MODEL_LAYOUTS) {
    for (const pageSize of [1, 16, 64]) {
      const s = simulateTrace(trace, {
        model,
        budgetBytes: 2 * 2 ** 30,
        timeScale: 30,
        policies: [
          parsePolicyName(`paged-${pageSize}`),
          parsePolicyName(`paged-${pageSize}-prefix`),
        ],
      });
      const [plain, cached] = s.policies;
      const { prefix, ...rest } = cached;
      assert.deepEqual({ ...rest, policy: plain.policy }, plain, `${model.name} ${pageSize}`);
      assert.equal(prefix?.hitTokens, 0);
      assert.equal(prefix?.blocksStored, 0);
    }
  }
});

test('a prefix-cache policy with a synthetic system prompt is an ArgumentError', () => {
  assert.throws(
    () =>
      simulateTrace(HAND_MADE, {
        ...OPTIONS,
        systemPromptTokens: 16,
        policies: [parsePolicyName('paged-16-prefix')],
      }),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'systemPromptTokens',
  );
});
