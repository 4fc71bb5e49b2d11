/** The simulator on tiny traces worked out by hand (see tiny-trace.ts for the model and step cost). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError } from '../../src/errors.js';
import { parsePolicyName } from '../../src/simulate/memory-policy.js';
import { simulateTrace, type SimulationOptions } from '../../src/simulate/simulate-trace.js';
import { parseTrace, type Trace } from '../../src/simulate/trace.js';
import { formatScenario } from '../../src/simulate/report-table.js';
import { near, run, runCompute, TINY, trace } from './tiny-trace.js';

const TWO_PREEMPTED: [number, number, number][] = [
  [0, 2, 3],
  [0, 2, 3],
];

test('contiguous-exact, room for both: prefill step, then one token a step', () => {
  // Step 1 (t 0-1): r0 admitted, 3 tokens in a 5-slot region.
  // Step 2 (t 1-2): r0 decodes (4 tokens); r1 (arrived 0.5) admitted, 4 tokens in 5 slots.
  // Step 3 (t 2-3): r0 decodes its 2nd and last token (5), r1 its only one (5); both end.
  const p = run(
    [
      [0, 3, 2],
      [0.5, 4, 1],
    ],
    'contiguous-exact',
    { budgetBytes: 10 },
  );
  assert.equal(p.steps, 3);
  assert.equal(p.completed, 2);
  near(p.busySeconds, 3, 'busy');
  near(p.makespanSeconds, 3, 'makespan');
  assert.equal(p.memory.peakBytes, 10);
  near(p.memory.meanBytes, (5 + 10 + 10) / 3, 'mean held');
  near(p.memory.meanTokenBytes, (3 + 8 + 10) / 3, 'mean tokens');
  near(p.memory.meanUnusedBytes, (2 + 2 + 0) / 3, 'mean unused');
  assert.equal(p.running.max, 2);
  near(p.running.mean, 5 / 3, 'mean running');
  near(p.memory.meanBytesPerRunningRequest, 25 / 3 / (5 / 3), 'per request');
  near(p.queueDelaySeconds.p50, 0, 'p50');
  near(p.queueDelaySeconds.p99, 0.5, 'p99');
  assert.equal(p.decode.tokens, 3);
  near(p.decode.tokensPerSecond, 1, 'throughput');
  assert.equal(p.preemptions, 0);
});

test('the series are time-weighted means over buckets of the trace span / seriesBuckets', () => {
  // Span 0.5 s in 1 bucket: 0.5 s buckets; each 1 s step covers two of them.
  const p = run(
    [
      [0, 3, 2],
      [0.5, 4, 1],
    ],
    'contiguous-exact',
    { budgetBytes: 10, seriesBuckets: 1 },
  );
  assert.equal(p.series.bucketSeconds, 0.5);
  assert.deepEqual(p.series.memoryBytes, [5, 5, 10, 10, 10, 10]);
  assert.deepEqual(p.series.running, [1, 1, 2, 2, 2, 2]);
  // Idle time counts as zero, and a step is split over the buckets it covers. Bandwidth 4 tokens/s:
  // r0 runs [0, 1.25) and [1.25, 2.75); r1 (arrives at 4) [4, 5.25) and [5.25, 6.75).
  const idle = run(
    [
      [0, 1, 1],
      [4, 1, 1],
    ],
    'paged-1',
    { budgetBytes: 10, seriesBuckets: 8, bandwidthBytesPerS: 4 },
  );
  assert.deepEqual(idle.series.running, [1, 1, 1, 1, 1, 0.5, 0, 0, 1, 1, 1, 1, 1, 0.5]);
});

test('contiguous-exact, room for one: the second request waits for the first to end', () => {
  // Steps 1-3 as above but r1 cannot get 5 slots of 9 until r0 gives its 5 back after step 3.
  // Step 4 (t 3-4): r1 admitted (4 tokens). Step 5 (t 4-5): r1 decodes its token and ends.
  const p = run(
    [
      [0, 3, 2],
      [0.5, 4, 1],
    ],
    'contiguous-exact',
    { budgetBytes: 9 },
  );
  assert.equal(p.steps, 5);
  near(p.busySeconds, 5, 'busy');
  near(p.queueDelaySeconds.p99, 2.5, 'r1 waited from 0.5 to 3');
  near(p.decode.tokensPerSecond, 3 / 5, 'throughput');
  assert.equal(p.running.max, 1);
  assert.equal(p.memory.peakBytes, 5);
  assert.equal(p.memory.requestsDelayedByFragmentation, 0);
});

test('contiguous-max reserves the whole context; the step cost counts cached tokens', () => {
  // maxContext 6, budget 13: two regions of 6 at most. Bandwidth 1 byte/s: a step costs
  // 1 s + cached tokens. Step 1: r0 (2 tokens) and r1 (3 tokens) admitted: 1 + 5 = 6 s.
  // Step 2: both decode (3 + 4): 8 s; r0 ends. Step 3: r1 decodes (5): 6 s, ends.
  const p = run(
    [
      [0, 2, 1],
      [0, 3, 2],
      [0, 4, 3], // 4 + 3 > 6: longer than the context, rejected
    ],
    'contiguous-max',
    { budgetBytes: 13, maxContext: 6, bandwidthBytesPerS: 1 },
  );
  assert.equal(p.completed, 2);
  assert.equal(p.steps, 3);
  near(p.busySeconds, 6 + 8 + 6, 'busy');
  assert.equal(p.memory.peakBytes, 12);
  near(p.memory.meanBytes, (12 * 6 + 12 * 8 + 6 * 6) / 20, 'mean held');
  // Step 3: r0's region [0, 6) is free again beside [12, 13): 1 slot outside the largest piece.
  near(p.memory.meanFragmentedBytes, (1 * 6) / 20, 'fragmented');
  near(p.decode.meanStepSeconds, 20 / 3, 'mean step');
});

test('first fit leaves free memory in pieces: a request waits although enough is free', () => {
  // Budget 10, exact reservation. Step 1: r0 takes [0, 4), r1 [4, 8); free [8, 10).
  // Step 2: r0 decodes its only token and ends: free [0, 4) and [8, 10).
  // Steps 3, 4: r2 (arrived 1.5, 5 slots) finds 6 free but no 5 in a row; r1 ends after step 4.
  // Step 5: r2 admitted into [0, 5). Step 6: r2 decodes and ends.
  const p = run(
    [
      [0, 3, 1],
      [0, 1, 3],
      [1.5, 4, 1],
    ],
    'contiguous-exact',
    { budgetBytes: 10 },
  );
  assert.equal(p.steps, 6);
  assert.equal(p.memory.requestsDelayedByFragmentation, 1);
  // 2 free slots outside the largest free piece in steps 3 and 4.
  near(p.memory.meanFragmentedBytes, (2 + 2) / 6, 'mean fragmented');
  near(p.queueDelaySeconds.p99, 4 - 1.5, 'r2 waited');
});

test('paged: a page at a time, page tails as unused slots', () => {
  // Page size 2, 4 pages. Step 1: 3 prompt tokens in 2 pages (1 slot unused). Step 2: the 4th
  // token fills page 2. Step 3: the 5th takes a 3rd page (1 unused); the request ends.
  const p = run([[0, 3, 2]], 'paged-2', { budgetBytes: 8 });
  assert.equal(p.steps, 3);
  assert.equal(p.capacityBytes, 8);
  assert.equal(p.memory.peakBytes, 6);
  near(p.memory.meanBytes, (4 + 4 + 6) / 3, 'mean held');
  near(p.memory.meanUnusedBytes, (1 + 0 + 1) / 3, 'mean unused');
  near(p.memory.meanFragmentedBytes, 0, 'no fragmentation with pages');
});

test('paged, out of pages with preempt: the newest request is recomputed later', () => {
  // Page size 1, 6 pages. Step 1: r0 and r1 admitted (2 pages each; admission keeps a free page
  // for each request at a page end: 2 + 1 <= 6, then 2 + 1 + 1 <= 4). Step 2: both decode (6 used).
  // Step 3: r0 needs a page: r1 (newest, 3 tokens) is preempted; r0 decodes; r1 cannot come back
  // (3 + 1 + 1 > 2). Step 4: r0 decodes its last token and ends. Step 5: r1 re-admitted with its
  // 3 tokens recomputed. Steps 6, 7: r1 decodes its 2 remaining tokens.
  const p = run(TWO_PREEMPTED, 'paged-1', { budgetBytes: 6 });
  assert.equal(p.steps, 7);
  assert.equal(p.preemptions, 1);
  assert.equal(p.recomputedTokens, 3);
  assert.equal(p.decode.tokens, 6);
  assert.equal(p.stalledSteps, 0);
  assert.equal(p.memory.peakBytes, 6);
  assert.equal(p.completed, 2);
  // Under the compute model (runCompute: tokens / 4 s, 1 s a decode key, 1 s a prefill pair) the
  // recompute is paid. Step 1: 2 + 2 prompt tokens, 3 + 3 pairs: 1 + 6 = 7. Step 2: 3 keys each:
  // 0.5 + 6. Step 3: r0 4 keys: 4.25. Step 4: r0 5 keys: 5.25. Step 5: r1 prefills its 2 prompt
  // tokens and 1 generated again, 6 pairs: 0.75 + 6. Steps 6, 7: r1 4 then 5 keys: 4.25, 5.25.
  const c = runCompute(TWO_PREEMPTED, 'paged-1', { budgetBytes: 6 });
  assert.equal(c.steps, 7);
  assert.equal(c.recomputedTokens, 3);
  near(c.busySeconds, 7 + 6.5 + 4.25 + 5.25 + 6.75 + 4.25 + 5.25, 'busy, compute');
  // r1: first token at 13.5 (end of step 2), done at 39.25: TPOT (39.25 - 13.5) / 2.
  near(c.latency.tpotSeconds.p99, (39.25 - 13.5) / 2, 'r1 TPOT, compute');
});

test('paged, out of pages with wait: requests skip steps, and the newest yields when all are stuck', () => {
  // As above until step 3, where both stall (2 request-steps); nothing could move, so r1 is
  // preempted after all and the step runs without it. Then the same as with preempt.
  const p = run(
    [
      [0, 2, 3],
      [0, 2, 3],
    ],
    'paged-1',
    { budgetBytes: 6, onFull: 'wait' },
  );
  assert.equal(p.steps, 7);
  assert.equal(p.stalledSteps, 2);
  assert.equal(p.preemptions, 1);
  assert.equal(p.decode.tokens, 6);
});

test('a shared system prompt is stored once; its partly filled last page is copied per request', () => {
  // Page size 2, system prompt 4 tokens (2 full pages), two requests of 1 prompt token, 1 generated.
  // Shared: 2 root pages + 1 page each = 4 pages = 8 slots at the peak. Unshared: 3 pages each
  // (5 then 6 tokens) = 6 pages = 12 slots.
  const requests: [number, number, number][] = [
    [0, 1, 1],
    [0, 1, 1],
  ];
  const shared = run(requests, 'paged-2-shared', { budgetBytes: 20, systemPromptTokens: 4 });
  const alone = run(requests, 'paged-2', { budgetBytes: 20, systemPromptTokens: 4 });
  assert.equal(shared.memory.peakBytes, 8);
  assert.equal(alone.memory.peakBytes, 12);
  // Both hold the same logical tokens: 2 x (4 + 1) in step 1, 2 x 6 in step 2.
  near(shared.memory.meanTokenBytes, 11, 'shared tokens');
  near(alone.memory.meanTokenBytes, 11, 'unshared tokens');
  // System prompt of 3: the root's second page is half full, so each request copies it first
  // (4 tokens in the copy) and takes one more page at its 5th token: 2 + 2 x 2 pages.
  const cow = run(requests, 'paged-2-shared', { budgetBytes: 20, systemPromptTokens: 3 });
  assert.equal(cow.memory.peakBytes, 2 * (2 + 2 * 2));
  // Unused: the root's half-empty page (1); in step 2 also each request's new page (1 + 2).
  near(cow.memory.meanUnusedBytes, (1 + 3) / 2, 'unused');
});

test('skipped rows and requests longer than the context or the budget are counted and reported', () => {
  const parsed = parseTrace(
    // 10 > maxContext 9; two rows with nothing to do; 8 slots > budget of 7.
    'TIMESTAMP,ContextTokens,GeneratedTokens\n0,5,5\n0,0,3\n1,2,2\n1,4,0\n2,7,1\n',
    'zeros.csv',
  );
  const result = simulateTrace(parsed, {
    model: TINY,
    policies: [parsePolicyName('contiguous-exact')],
    budgetBytes: 7,
    maxContext: 9,
    stepOverheadSeconds: 1,
  });
  assert.equal(result.requests, 3);
  assert.equal(result.skippedRows, 2);
  assert.equal(result.rejectedTooLong, 1);
  assert.equal(result.policies[0].rejectedTooLarge, 1);
  assert.equal(result.policies[0].completed, 1);
  const table = formatScenario(result);
  assert.ok(table.includes('3 requests (2 trace rows skipped: no prompt or no output)'), table);
  assert.ok(table.includes('1 longer than the context (dropped)'), table);
  assert.ok(table.includes('Larger than the budget (dropped): contiguous-exact: 1.'), table);
});

test('time scale divides arrival times', () => {
  const requests: [number, number, number][] = [
    [0, 1, 1],
    [10, 1, 1],
  ];
  near(run(requests, 'paged-1', { budgetBytes: 10 }).makespanSeconds, 12, 'as recorded');
  near(run(requests, 'paged-1', { budgetBytes: 10, timeScale: 10 }).makespanSeconds, 3, '10x');
});

test('bad options throw ArgumentError naming the option', () => {
  const t = trace([[0, 1, 1]]);
  for (const [options, argument] of [
    [{ budgetBytes: 0 }, 'budgetBytes'],
    [{ timeScale: -1 }, 'timeScale'],
    [{ maxContext: 2.5 }, 'maxContext'],
    [{ systemPromptTokens: -3 }, 'systemPromptTokens'],
    [{ onFull: 'drop' }, 'onFull'],
    [{ stepOverheadSeconds: NaN }, 'stepOverheadSeconds'],
  ] as const) {
    assert.throws(
      () => simulateTrace(t, { model: TINY, ...(options as Partial<SimulationOptions>) }),
      (e: unknown) => e instanceof ArgumentError && e.argument === argument,
    );
  }
});

test('missing or mistyped options name the option, the expected and the actual value', () => {
  const t = trace([[0, 1, 1]]);
  const cases: [unknown, unknown, string][] = [
    [t, {}, 'model: expected a ModelLayout (e.g. DEEPSEEK_V3), got undefined'],
    [t, undefined, 'options: expected an object with at least { model }, got undefined'],
    [
      t,
      { model: 'llama-3-8b' },
      'model: expected a ModelLayout (e.g. DEEPSEEK_V3), got "llama-3-8b"',
    ],
    [
      t,
      { model: { ...TINY, bytesPerToken: '2' } },
      'model.bytesPerToken: expected an integer > 0, got "2" (string)',
    ],
    [t, { model: TINY, timeScale: '30' }, 'timeScale: expected a finite number > 0, got "30"'],
    [
      t,
      { model: TINY, budgetBytes: false },
      'budgetBytes: expected a finite number > 0, got false',
    ],
    [t, { model: TINY, onFull: 'drop' }, `onFull: expected 'wait' or 'preempt', got "drop"`],
    [t, { model: TINY, onProgress: 5 }, 'onProgress: expected a function, got 5'],
    [
      t,
      { model: TINY, policies: 'paged-16' },
      'policies: expected a non-empty array of policy specs, got "paged-16"',
    ],
    [
      t,
      { model: TINY, policies: [] },
      'policies: expected a non-empty array of policy specs, got an Array of 0 elements',
    ],
    [
      t,
      { model: TINY, policies: [{ kind: 'paged', pageSize: 0, sharePrefix: false }] },
      'policies[0]: expected ',
    ],
    [
      t,
      { model: TINY, policies: [{ kind: 'paged', pageSize: 4, sharePrefix: 'no' }] },
      'policies[0]: expected ',
    ],
    [
      undefined,
      { model: TINY },
      'trace: expected a Trace (from readTrace or parseTrace), got undefined',
    ],
    [
      { ...t, arrival: [0] },
      { model: TINY },
      'trace.arrival: expected a Float64Array, got an Array of 1 elements',
    ],
    [
      { ...t, promptTokens: new Int32Array(2) },
      { model: TINY },
      'trace.promptTokens.length: expected 1 (trace.arrival.length), got 2',
    ],
  ];
  for (const [tr, options, message] of cases) {
    assert.throws(
      () => simulateTrace(tr as Trace, options as SimulationOptions),
      (e: unknown) => e instanceof ArgumentError && e.message.startsWith(message),
      message,
    );
  }
  for (const name of ['paged-0', 'contiguous-0', 'contiguous-', 'contiguous-1.5']) {
    assert.throws(
      () => parsePolicyName(name),
      (e: unknown) => e instanceof ArgumentError && e.argument === 'policy',
      name,
    );
  }
  assert.deepEqual(parsePolicyName('contiguous-4096'), {
    kind: 'contiguous-reserve',
    tokens: 4096,
  });
});
