/** TTFT, TPOT and goodput on tiny traces timed by hand (1 s a step; see tiny-trace.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError } from '../../src/errors.js';
import { latencyTable } from '../../src/simulate/report-table.js';
import { simulateTrace } from '../../src/simulate/simulate-trace.js';
import { parsePolicyName } from '../../src/simulate/memory-policy.js';
import { run, TINY, trace } from './tiny-trace.js';

// r0 arrives at 0 (3 + 3 tokens), r1 at 0.25 (2 + 1), r2 at 2.5 (1 + 2); room for all.
// Step 1 (0-1): r0 admitted. Step 2 (1-2): r0 decodes token 1 (TTFT 2 - 0 = 2); r1 admitted.
// Step 3 (2-3): r0 token 2; r1 token 1, its last (TTFT 3 - 0.25 = 2.75, no TPOT), ends at 3.
// Step 4 (3-4): r0 token 3, ends at 4 (TPOT (4 - 2) / 2 = 1); r2 (arrived 2.5) admitted.
// Step 5 (4-5): r2 token 1 (TTFT 5 - 2.5 = 2.5). Step 6 (5-6): r2 token 2, ends (TPOT 1).
// TTFT sorted 2, 2.5, 2.75: p50 the 2nd, p99 the 3rd. Makespan 6 s.
const THREE: [number, number, number][] = [
  [0, 3, 3],
  [0.25, 2, 1],
  [2.5, 1, 2],
];

/** The expected `latency`: TTFT and TPOT [p50, p99], requests within objectives over the makespan. */
function expected(ttft: [number, number], tpot: [number, number], good: number, makespan: number) {
  return {
    ttftSeconds: { p50: ttft[0], p99: ttft[1] },
    tpotSeconds: { p50: tpot[0], p99: tpot[1] },
    goodput: { requests: good, requestsPerSecond: good / makespan },
  };
}

test('TTFT runs from arrival to the end of the step that decodes the first token', () => {
  const p = run(THREE, 'contiguous-exact', { sloTtftSeconds: 2.5, sloTpotSeconds: 1 });
  assert.equal(p.makespanSeconds, 6);
  // r0 (2 s, 1 s) and r2 (2.5 s, 1 s) meet both objectives; r1 starts too late.
  assert.deepEqual(p.latency, expected([2.5, 2.75], [1, 1], 2, 6));
});

test('goodput: a request of one token has no TPOT to miss; objectives are inclusive', () => {
  // TPOT objective 0.5 s: r0 and r2 (1 s a token) miss it; r1 (one token) meets it but not TTFT 2.5.
  const strict = run(THREE, 'paged-1', {
    budgetBytes: 100,
    sloTtftSeconds: 2.5,
    sloTpotSeconds: 0.5,
  });
  assert.deepEqual(strict.latency.goodput, { requests: 0, requestsPerSecond: 0 });
  // TTFT objective 2.75: r1 now meets it too.
  const loose = run(THREE, 'paged-16', {
    budgetBytes: 100,
    sloTtftSeconds: 2.75,
    sloTpotSeconds: 1,
  });
  assert.deepEqual(loose.latency.goodput, { requests: 3, requestsPerSecond: 3 / 6 });
  // The defaults (2 s, 0.1 s): every request of two tokens or more misses TPOT, r1 misses TTFT.
  assert.equal(run(THREE, 'paged-1', { budgetBytes: 100 }).latency.goodput.requests, 0);
});

test('a preempted request keeps the TTFT of its first token; its wait goes into its TPOT', () => {
  // Page size 1, 8 pages; r0 (3 + 3 tokens) and r1 (3 + 2) arrive at 0.
  // Step 1 (0-1): both admitted (3 + 1 <= 8, then 3 + 1 + 1 <= 5): 2 pages free.
  // Step 2 (1-2): both decode their first token (TTFT 2 each): 0 free.
  // Step 3 (2-3): r0 needs a page: r1 (newest) preempted, 4 pages back; r0 token 2; r1 cannot
  // come back (4 + 1 + 1 > 3). Step 4 (3-4): r0 token 3, ends at 4 (TPOT (4 - 2) / 2 = 1).
  // Step 5 (4-5): r1 re-admitted, its 4 tokens recomputed. Step 6 (5-6): r1 token 2, ends at 6
  // (TPOT (6 - 2) / 1 = 4). TPOT sorted 1, 4: p50 the 1st, p99 the 2nd.
  const requests: [number, number, number][] = [
    [0, 3, 3],
    [0, 3, 2],
  ];
  const p = run(requests, 'paged-1', { budgetBytes: 8, sloTtftSeconds: 2, sloTpotSeconds: 1 });
  assert.equal(p.preemptions, 1);
  assert.equal(p.makespanSeconds, 6);
  assert.deepEqual(p.latency, expected([2, 2], [1, 4], 1, 6));
});

test('a request with nothing to generate shows its prefill at the end of its step', () => {
  // r0 (2 + 0) admitted in step 1 (0-1) and done at 1: TTFT 1, no TPOT.
  const p = run([[0, 2, 0]], 'contiguous-exact');
  assert.deepEqual(p.latency, expected([1, 1], [0, 0], 1, 1));
});

test('the latency table and the objectives it names', () => {
  const s = simulateTrace(trace(THREE), {
    model: TINY,
    policies: [parsePolicyName('contiguous-exact')],
    stepModel: 'bandwidth',
    stepOverheadSeconds: 1,
    bandwidthBytesPerS: 1e30,
    sloTtftSeconds: 2.5,
    sloTpotSeconds: 1,
  });
  assert.equal(s.sloTtftSeconds, 2.5);
  assert.deepEqual(latencyTable(s).split('\n'), [
    '| policy | TTFT s (p50 / p99) | TPOT ms (p50 / p99) | goodput req/s (TTFT <= 2.5 s, TPOT <= 1 s) | within objectives |',
    '| --- | --- | --- | --- | --- |',
    '| contiguous-exact | 2.50 / 2.75 | 1,000.0 / 1,000.0 | 0.33 | 66.7% |',
  ]);
});

test('objectives must be positive finite numbers', () => {
  for (const [key, value] of [
    ['sloTtftSeconds', 0],
    ['sloTpotSeconds', -1],
    ['sloTpotSeconds', Infinity],
  ] as const) {
    assert.throws(
      () => run(THREE, 'contiguous-exact', { [key]: value }),
      (e: unknown) => e instanceof ArgumentError && e.argument === key,
    );
  }
});
