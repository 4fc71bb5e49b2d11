/**
 * Faster replays must not change a figure: the first 200 requests of the Azure trace, replayed under
 * memory pressure (2 GiB) for both layouts, both loads, with and without a system prompt, preempting
 * and waiting, give exactly the figures and tables recorded in fixtures/first200-results.json.
 * The latency figures and table were recorded later, beside the others (`latency`, `latencyTable`).
 * They were recorded under the bandwidth step model, which they pin.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MODEL_LAYOUTS } from '../../src/simulate/model-layouts.js';
import { formatScenario } from '../../src/simulate/report-table.js';
import { simulateTrace, type OnFull } from '../../src/simulate/simulate-trace.js';
import { readTrace } from '../../src/simulate/trace.js';

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../test/simulate/fixtures/${name}`, import.meta.url));

interface Recorded {
  model: string;
  options: { timeScale: number; systemPromptTokens: number; onFull: OnFull; budgetBytes: number };
  policies: Record<string, unknown>[];
  table: string[];
  latencyTable: string[];
}

test('replays give exactly the recorded figures and tables', () => {
  const trace = readTrace(fixture('azure-llm-inference-2023-conv-first200.csv'));
  const recorded: Recorded[] = JSON.parse(readFileSync(fixture('first200-results.json'), 'utf8'));
  assert.equal(recorded.length, 16);
  for (const r of recorded) {
    const model = MODEL_LAYOUTS.find((m) => m.name === r.model)!;
    const s = simulateTrace(trace, { model, ...r.options, stepModel: 'bandwidth' });
    const label = `${r.model} ${JSON.stringify(r.options)}`;
    const policies = s.policies.map(({ series, ...rest }) => ({
      ...rest,
      seriesSha256: createHash('sha256').update(JSON.stringify(series)).digest('hex'),
    }));
    assert.deepEqual(JSON.parse(JSON.stringify(policies)), r.policies, label);
    const table = formatScenario(s)
      .split('\n')
      .filter((line) => line.startsWith('|'));
    assert.deepEqual(table, [...r.table, ...r.latencyTable], label);
  }
});
