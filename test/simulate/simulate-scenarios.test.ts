import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ArgumentError } from '../../src/errors.js';
import { DEEPSEEK_V3, LLAMA_3_8B } from '../../src/simulate/model-layouts.js';
import { simulateScenarios, type ScenarioOptions } from '../../src/simulate/simulate-scenarios.js';
import { simulateTrace } from '../../src/simulate/simulate-trace.js';
import { readTrace } from '../../src/simulate/trace.js';

const SAMPLE = fileURLToPath(
  new URL(
    '../../../test/simulate/fixtures/azure-llm-inference-2023-conv-first200.csv',
    import.meta.url,
  ),
);

const SCENARIOS: ScenarioOptions[] = [
  { model: LLAMA_3_8B, timeScale: 30, budgetBytes: 2 * 2 ** 30 },
  { model: DEEPSEEK_V3, systemPromptTokens: 100, budgetBytes: 2 * 2 ** 30, onFull: 'wait' },
];

test('replays on worker threads give what simulateTrace gives, in order', async () => {
  const trace = readTrace(SAMPLE);
  const expected = SCENARIOS.map((options) => simulateTrace(trace, options));
  for (const workers of [1, 2, 3]) {
    const seen: [number, number, number, number][] = [];
    const results = await simulateScenarios(trace, SCENARIOS, {
      workers,
      onProgress: (...args) => seen.push(args),
    });
    assert.deepEqual(results, expected, `${workers} workers`);
    const total = 200 * (5 + 8);
    assert.deepEqual(seen[seen.length - 1], [total, total, 13, 13], `${workers} workers`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i][0] >= seen[i - 1][0]);
  }
});

test('a bad option is the ArgumentError simulateTrace throws, before any worker starts', async () => {
  const trace = readTrace(SAMPLE);
  await assert.rejects(
    simulateScenarios(trace, [SCENARIOS[0], { ...SCENARIOS[1], timeScale: '2' as never }], {
      workers: 2,
    }),
    (e: unknown) =>
      e instanceof ArgumentError &&
      e.message === 'timeScale: expected a finite number > 0, got "2" (string)',
  );
  await assert.rejects(
    simulateScenarios(trace, [{ model: LLAMA_3_8B, budgetBytes: 1000 }]),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'budget',
  );
});
