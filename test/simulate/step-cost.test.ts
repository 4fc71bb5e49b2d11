/**
 * The compute step model on tiny traces worked out by hand (runCompute in tiny-trace.ts: a step
 * costs tokens / 4 s, plus 1 s per key a decode attends, plus 1 s per query-key pair of a prefill),
 * and the real models' constants.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError } from '../../src/errors.js';
import { DEEPSEEK_V3, LLAMA_3_8B } from '../../src/simulate/model-layouts.js';
import { computeStepCost } from '../../src/simulate/step-cost.js';
import { H200_STEP_RATES } from '../../src/simulate/step-rates.js';
import { near, run, runCompute, TINY } from './tiny-trace.js';

const TWO: [number, number, number][] = [
  [0, 3, 2],
  [0.5, 4, 1],
];

test('step times: linear per token, decode per key, prefill per causal pair', () => {
  // Step 1 (0-6.75): r0 admitted, 3 prompt tokens: 6 pairs (1 + 2 + 3); 3 / 4 + 6 = 6.75.
  // Step 2 (6.75-22): r0 decodes (4 keys); r1 (arrived 0.5) admitted: 10 pairs; 5 / 4 + 4 + 10.
  // Step 3 (22-32.5): both decode, 5 keys each; 2 / 4 + 10 = 10.5. Both end.
  const p = runCompute(TWO, 'contiguous-exact', { budgetBytes: 10 });
  assert.equal(p.steps, 3);
  near(p.busySeconds, 32.5, 'busy');
  near(p.decode.meanStepSeconds, 32.5 / 3, 'mean step');
  near(p.queueDelaySeconds.p99, 6.75 - 0.5, 'r1 waited for step 1');
  // TTFT: r0 at the end of step 2 (22), r1 at the end of step 3 (32.5 - 0.5).
  near(p.latency.ttftSeconds.p50, 22, 'r0 TTFT');
  near(p.latency.ttftSeconds.p99, 32, 'r1 TTFT');
  // The same schedule under the bandwidth model costs 1 s a step (bytes free).
  near(run(TWO, 'contiguous-exact', { budgetBytes: 10 }).busySeconds, 3, 'bandwidth busy');
});

test('a phase runs at the slower of its arithmetic and its bytes', () => {
  // 0.25 B/s: one request of 3 + 1 tokens. Step 1: prefill 6 pairs (6 s) but 3 keys written
  // (12 s): 3 / 4 + 12. Step 2: decode 4 keys (4 s) but 4 bytes read (16 s): 1 / 4 + 16.
  const p = runCompute([[0, 3, 1]], 'paged-1', { budgetBytes: 10, bandwidthBytesPerS: 0.25 });
  near(p.busySeconds, 12.75 + 16.25, 'busy');
  // Weights of 2 bytes read once a step, whatever the batch: 8 s more a step.
  const heavy = runCompute([[0, 3, 1]], 'paged-1', {
    budgetBytes: 10,
    bandwidthBytesPerS: 0.25,
    model: { ...TINY, weightBytesPerCard: 2 },
  });
  near(heavy.busySeconds, 12 + 8 + (16 + 8), 'busy with weights');
});

test('chunked prefill: a chunk a step, decoding after the last chunk', () => {
  // 2 prompt tokens a step. Step 1: tokens 1-2 of r0: 3 pairs, 2 / 4 + 3 = 3.5.
  // Step 2: token 3 after 2: 2 + 1 pairs, 1 / 4 + 3 = 3.25. Step 3: decode 4 keys: 4.25.
  // Step 4: decode 5 keys: 5.25. The same 6 pairs as unchunked, in one more step.
  const p = runCompute([[0, 3, 2]], 'contiguous-exact', {
    budgetBytes: 10,
    chunkedPrefillTokens: 2,
  });
  assert.equal(p.steps, 4);
  near(p.busySeconds, 3.5 + 3.25 + 4.25 + 5.25, 'busy');
  near(p.latency.ttftSeconds.p50, 3.5 + 3.25 + 4.25, 'TTFT');
  const whole = runCompute([[0, 3, 2]], 'contiguous-exact', { budgetBytes: 10 });
  assert.equal(whole.steps, 3);
  near(whole.busySeconds, 6.75 + 4.25 + 5.25, 'busy unchunked');
});

test('chunked prefill: admission stops when the step has no prefill token to spare', () => {
  // 3 tokens a step, r0 and r1 of 3 prompt tokens each. Step 1: r0's 3 tokens (6 pairs), r1 waits:
  // 0.75 + 6. Step 2: r0 decodes 4 keys and ends; r1 admitted, 6 pairs: 1 + 4 + 6.
  // Step 3: r1 decodes 4 keys: 0.25 + 4.
  const p = runCompute(
    [
      [0, 3, 1],
      [0, 3, 1],
    ],
    'contiguous-exact',
    { budgetBytes: 10, chunkedPrefillTokens: 3 },
  );
  assert.equal(p.steps, 3);
  near(p.busySeconds, 6.75 + 11 + 4.25, 'busy');
  near(p.queueDelaySeconds.p99, 6.75, 'r1 waited a step');
});

test('a shared system prompt is not computed again by each request', () => {
  // System prompt 2, prompt 1: 3 tokens. Shared: 1 token after 2 present, 2 + 1 pairs:
  // 1 / 4 + 3; not shared: 3 tokens, 6 pairs: 3 / 4 + 6. Then one decode of 4 keys: 4.25.
  const options = { budgetBytes: 20, systemPromptTokens: 2 };
  near(runCompute([[0, 1, 1]], 'paged-1-shared', options).busySeconds, 3.25 + 4.25, 'shared');
  near(runCompute([[0, 1, 1]], 'paged-1', options).busySeconds, 6.75 + 4.25, 'not shared');
});

test("the real models' steps from their shapes and the H200 rates", () => {
  const copy = 4122.42e9;
  const matmul = 755.62e12;
  // DeepSeek-V3 per card (16-way): one decode at 1,000 keys reads 41.9375e9 weight bytes and 1,000
  // x 70,272 cache bytes at 82.6% of copy; its 4.625e9 linear FLOPs (2 x 37e9 / 16) at 80% of the
  // matrix rate (7.7 us) and 1,000 x 2 x 8 heads x 1,088 x 61 attention FLOPs (2.1 us) are hidden.
  const deepseek = computeStepCost(DEEPSEEK_V3 as never, H200_STEP_RATES, 0);
  const decode = { cachedTokens: 1000, decodeTokens: 1, decodeKeys: 1000 };
  const none = { prefillTokens: 0, prefillPairs: 0, prefillKeys: 0 };
  near(deepseek({ ...decode, ...none }), (41.9375e9 + 1000 * 70_272) / (copy * 0.826), 'deepseek');
  // In fp8 (fp8_ds_mla, 656 bytes a layer) each key reads 656 x 61 = 40,016 bytes; FLOPs unchanged.
  const deepseekFp8 = computeStepCost(DEEPSEEK_V3 as never, H200_STEP_RATES, 0, 656 * 61);
  near(
    deepseekFp8({ ...decode, ...none }),
    (41.9375e9 + 1000 * 40_016) / (copy * 0.826),
    'deepseek fp8',
  );
  // Llama-3-8B prefills 2,048 tokens: 2 x 8.03e9 x 2,048 linear FLOPs at 80% (54.4 ms, more than
  // the 4.7 ms of weights) plus 2,048 x 2,049 / 2 pairs x 2 x 32 heads x 256 x 32 layers at
  // 66.9% (2.2 ms, more than the 79 us of its 2,048 x 131,072 cache bytes).
  const llama = computeStepCost(LLAMA_3_8B as never, H200_STEP_RATES, 0);
  const pairs = (2048 * 2049) / 2;
  const seconds = llama({
    cachedTokens: 2048,
    decodeTokens: 0,
    decodeKeys: 0,
    prefillTokens: 2048,
    prefillPairs: pairs,
    prefillKeys: 2048,
  });
  const expected =
    (2 * 8.03e9 * 2048) / (matmul * 0.8) + (pairs * 2 * 32 * 256 * 32) / (matmul * 0.669);
  near(seconds, expected, 'llama prefill');
  assert.ok(seconds > 0.0565 && seconds < 0.0567, `llama prefill ${seconds}`);
});

test('step options are checked', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ stepModel: 'flops' }, 'stepModel'],
    [{ model: { ...TINY, compute: undefined } }, 'model.compute'],
    [{ chunkedPrefillTokens: -1 }, 'chunkedPrefillTokens'],
    [{ chunkedPrefillTokens: 1.5 }, 'chunkedPrefillTokens'],
    [{ stepRates: { matmulFlopsPerS: 0 } }, 'stepRates.matmulFlopsPerS'],
  ];
  for (const [options, argument] of cases) {
    assert.throws(
      () => runCompute([[0, 1, 1]], 'paged-1', options),
      (e: unknown) => e instanceof ArgumentError && e.argument === argument,
      argument,
    );
  }
  // Without shapes a model still replays under the bandwidth model.
  const p = run([[0, 1, 1]], 'paged-1', {
    budgetBytes: 10,
    model: { ...TINY, compute: undefined },
  });
  assert.equal(p.completed, 1);
});
