/**
 * The whole Azure conversation trace (Azure Public Dataset, CC-BY 4.0; Patel et al., "Splitwise",
 * ISCA 2024) replayed for both cache layouts: fast enough, and the figures hang together.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEEPSEEK_V3, LLAMA_3_8B } from '../../src/simulate/model-layouts.js';
import { simulateTrace } from '../../src/simulate/simulate-trace.js';
import { readTrace } from '../../src/simulate/trace.js';

// From dist/test/simulate/ to the package root's sibling shared/data/.
const TRACE = fileURLToPath(
  new URL('../../../../shared/data/azure-llm-inference-2023-conv.csv', import.meta.url),
);
const MOONCAKE = fileURLToPath(
  new URL('../../../../shared/data/mooncake-conversation.jsonl', import.meta.url),
);

test('the real trace replays in a few seconds, every request accounted for', (t) => {
  if (!existsSync(TRACE)) {
    t.skip(`${TRACE} is not there`);
    return;
  }
  const started = performance.now();
  const trace = readTrace(TRACE);
  assert.equal(trace.arrival.length, 19_366);
  for (const [model, tooLong] of [
    [DEEPSEEK_V3, 0],
    [LLAMA_3_8B, 1], // one request of more than 8,192 tokens
  ] as const) {
    const result = simulateTrace(trace, { model });
    assert.equal(result.rejectedTooLong, tooLong);
    let generated = 0;
    for (let r = 0; r < trace.arrival.length; r++) {
      if (trace.promptTokens[r] + trace.generatedTokens[r] <= model.maxContext) {
        generated += trace.generatedTokens[r];
      }
    }
    const by = Object.fromEntries(result.policies.map((p) => [p.policy, p]));
    assert.deepEqual(Object.keys(by), [
      'contiguous-max',
      'contiguous-exact',
      'paged-1',
      'paged-16',
      'paged-64',
    ]);
    for (const p of result.policies) {
      assert.equal(p.completed, 19_366 - tooLong, p.policy);
      assert.equal(p.decode.tokens, generated, p.policy);
      assert.ok(p.memory.peakBytes <= result.budgetBytes, p.policy);
    }
    const perRequest = (name: string) => by[name].memory.meanBytesPerRunningRequest;
    assert.ok(perRequest('paged-1') < perRequest('paged-16'));
    assert.ok(perRequest('paged-16') < perRequest('paged-64'));
    assert.ok(perRequest('paged-64') < perRequest('contiguous-exact'));
    assert.ok(perRequest('contiguous-exact') < perRequest('contiguous-max'));
    assert.equal(by['paged-1'].memory.meanUnusedBytes, 0);
  }
  const seconds = (performance.now() - started) / 1e3;
  // Two models x five policies; about 2 s on a 2-core machine, so 20 s means something broke.
  assert.ok(seconds < 20, `took ${seconds.toFixed(1)} s`);
});

test('on the real trace, reserving the maximum context starves DeepSeek-V3: 3 requests at once', (t) => {
  if (!existsSync(TRACE)) {
    t.skip(`${TRACE} is not there`);
    return;
  }
  const trace = readTrace(TRACE);
  const result = simulateTrace(trace, {
    model: DEEPSEEK_V3,
    policies: [{ kind: 'contiguous-max' }, { kind: 'paged', pageSize: 64, sharePrefix: false }],
  });
  const [max, paged] = result.policies;
  // 35.4 GiB / (163,840 tokens x 70,272 bytes = 10.7 GiB) = 3 regions.
  assert.equal(max.running.max, 3);
  assert.ok(paged.running.mean > 5 * max.running.mean);
  // 4.9x under the compute step model (5.5x under bandwidth): the load, not memory, caps paging.
  assert.ok(paged.decode.tokensPerSecond > 4 * max.decode.tokensPerSecond);
  assert.ok(max.queueDelaySeconds.p50 > 1000 * Math.max(paged.queueDelaySeconds.p50, 0.001));
});

test('the Mooncake conversation trace reads whole, hash ids included, and replays', (t) => {
  if (!existsSync(MOONCAKE)) {
    t.skip(`${MOONCAKE} is not there`);
    return;
  }
  const trace = readTrace(MOONCAKE);
  assert.equal(trace.arrival.length + trace.skippedRows!, 12_031);
  assert.equal(trace.hashIds?.length, trace.arrival.length);
  let tooLong = 0;
  for (let r = 0; r < trace.arrival.length; r++) {
    // One id per 512-token block of the prompt.
    assert.equal(trace.hashIds![r].length, Math.ceil(trace.promptTokens[r] / 512), `request ${r}`);
    if (trace.promptTokens[r] + trace.generatedTokens[r] > LLAMA_3_8B.maxContext) tooLong++;
  }
  const result = simulateTrace(trace, {
    model: LLAMA_3_8B,
    policies: [{ kind: 'paged', pageSize: 16, sharePrefix: false }],
  });
  assert.ok(tooLong > 0);
  assert.equal(result.rejectedTooLong, tooLong);
  const [paged] = result.policies;
  assert.equal(paged.completed + paged.rejectedTooLarge + tooLong, trace.arrival.length);
  assert.equal(result.skippedRows, trace.skippedRows);
});
