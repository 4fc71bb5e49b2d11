/** The memory study's results as Markdown: one table per scenario and what paging saves. */
import { checkScenarioResult } from './check-options.js';
import { GIB } from './model-layouts.js';
import type { PolicyResult, ScenarioResult } from './simulate-trace.js';

const MIB = 2 ** 20;

function fixed(x: number, digits: number): string {
  return x.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** A signed change in percent (`-99.2%`, `+14.6%`), or a factor from twice up (`5.5x`); `n/a` without a base. */
export function change(value: number, base: number): string {
  if (!(base > 0)) return 'n/a';
  if (value >= 2 * base) return `${fixed(value / base, 1)}x`;
  const pct = (value / base - 1) * 100;
  return `${pct >= 0 ? '+' : ''}${fixed(pct, 1)}%`;
}

/** A scenario in words: model, cache dtype, load, synthetic system prompt. */
export function scenarioTitle(s: ScenarioResult): string {
  const load =
    s.timeScale === 1
      ? 'arrivals as recorded'
      : s.timeScale > 1
        ? `arrivals ${s.timeScale}x as fast`
        : `arrivals at ${s.timeScale}x the recorded rate`;
  const prompt =
    s.systemPromptTokens > 0
      ? `, synthetic ${s.systemPromptTokens}-token shared system prompt`
      : '';
  return `${s.model}, ${s.kvDtype} KV cache, ${load}${prompt}`;
}

function row(p: PolicyResult): string[] {
  const m = p.memory;
  const held = m.meanBytes;
  return [
    p.policy,
    `${fixed(m.peakBytes / GIB, 2)} / ${fixed(held / GIB, 2)}`,
    fixed(m.meanBytesPerRunningRequest / MIB, 1),
    held > 0 ? `${fixed((m.meanUnusedBytes / held) * 100, 1)}%` : '0.0%',
    fixed(m.meanFragmentedBytes / GIB, 2),
    `${fixed(p.running.mean, 1)} / ${p.running.max}`,
    `${fixed(p.queueDelaySeconds.p50, 2)} / ${fixed(p.queueDelaySeconds.p99, 2)}`,
    fixed(p.decode.tokensPerSecond, 0),
    String(p.preemptions),
  ];
}

const HEADER = [
  'policy',
  'held GiB (peak / mean)',
  'MiB per running request',
  'held but unused',
  'fragmented GiB',
  'running (mean / max)',
  'queue s (p50 / p99)',
  'decode tok/s',
  'preempted',
];

function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** What each paged policy saves over each contiguous one: memory per running request, throughput. */
export function savingsTable(s: ScenarioResult): string {
  const contiguous = s.policies.filter((p) => p.policy.startsWith('contiguous'));
  const paged = s.policies.filter((p) => p.policy.startsWith('paged'));
  if (contiguous.length === 0 || paged.length === 0) return '';
  const header = ['paged policy'];
  for (const c of contiguous)
    header.push(`memory per request vs ${c.policy}`, `throughput vs ${c.policy}`);
  const rows = paged.map((p) => {
    const cells = [p.policy];
    for (const c of contiguous) {
      cells.push(
        change(p.memory.meanBytesPerRunningRequest, c.memory.meanBytesPerRunningRequest),
        change(p.decode.tokensPerSecond, c.decode.tokensPerSecond),
      );
    }
    return cells;
  });
  return markdownTable(header, rows);
}

/** What users saw under each policy: TTFT and TPOT percentiles, and goodput within the objectives. */
export function latencyTable(s: ScenarioResult): string {
  const header = [
    'policy',
    'TTFT s (p50 / p99)',
    'TPOT ms (p50 / p99)',
    `goodput req/s (TTFT <= ${s.sloTtftSeconds} s, TPOT <= ${s.sloTpotSeconds} s)`,
    'within objectives',
  ];
  const rows = s.policies.map((p) => {
    const { ttftSeconds: ttft, tpotSeconds: tpot, goodput } = p.latency;
    return [
      p.policy,
      `${fixed(ttft.p50, 2)} / ${fixed(ttft.p99, 2)}`,
      `${fixed(tpot.p50 * 1e3, 1)} / ${fixed(tpot.p99 * 1e3, 1)}`,
      fixed(goodput.requestsPerSecond, 2),
      s.requests > 0 ? `${fixed((goodput.requests / s.requests) * 100, 1)}%` : '0.0%',
    ];
  });
  return markdownTable(header, rows);
}

/**
 * What each prefix-cache policy served from its cache, and what that bought against
 * contiguous-exact (which cannot share): memory held and time to first token.
 */
export function prefixTable(s: ScenarioResult): string {
  const cached = s.policies.filter((p) => p.prefix !== undefined);
  if (cached.length === 0) return '';
  const base = s.policies.find((p) => p.policy === 'contiguous-exact');
  const vs = base === undefined ? '' : ' vs contiguous-exact';
  const header = [
    'prefix policy',
    'prompt tokens from cache',
    'blocks stored / evicted',
    `held GiB, mean${vs}`,
    `TTFT p50 / p99${vs}`,
  ];
  const rows = cached.map((p) => {
    const { hitRate, blocksStored, blocksEvicted } = p.prefix!;
    const ttft = p.latency.ttftSeconds;
    const held = fixed(p.memory.meanBytes / GIB, 2);
    return [
      p.policy,
      `${fixed(hitRate * 100, 1)}%`,
      `${blocksStored.toLocaleString('en-US')} / ${blocksEvicted.toLocaleString('en-US')}`,
      base === undefined ? held : `${held} (${change(p.memory.meanBytes, base.memory.meanBytes)})`,
      base === undefined
        ? `${fixed(ttft.p50, 2)} / ${fixed(ttft.p99, 2)} s`
        : `${change(ttft.p50, base.latency.ttftSeconds.p50)} / ${change(ttft.p99, base.latency.ttftSeconds.p99)}`,
    ];
  });
  return markdownTable(header, rows);
}

/** The step model in words, as the setup line gives it. */
export function stepModelText(s: ScenarioResult): string {
  const gbs = `${fixed(s.bandwidthBytesPerS / 1e9, 0)} GB/s`;
  const overhead = `${fixed(s.stepOverheadSeconds * 1e3, 2)} ms`;
  const chunks =
    s.chunkedPrefillTokens > 0
      ? `chunked prefill of ${s.chunkedPrefillTokens.toLocaleString('en-US')} tokens a step`
      : 'whole prefills';
  if (s.stepRates === undefined) {
    return `step model bandwidth: step = ${overhead} + KV bytes / ${gbs}, ${chunks}`;
  }
  const r = s.stepRates;
  const pct = (x: number) => `${fixed(x * 100, 1)}%`;
  return (
    `step model compute: step = ${overhead} + linear layers, decode attention and prefill, each ` +
    `at the slower of ${fixed(r.matmulFlopsPerS / 1e12, 1)} TFLOP/s (linear ` +
    `${pct(r.linearFlopsEfficiency)}, attention ${pct(r.attentionFlopsEfficiency)}) and ${gbs} ` +
    `(weights ${pct(r.weightBytesEfficiency)}, cache ${pct(r.attentionBytesEfficiency)}), ${chunks}`
  );
}

/** The scenario's heading, setup, table, savings, prefix cache and latency. */
export function formatScenario(s: ScenarioResult): string {
  checkScenarioResult('s', s);
  const scales =
    s.kvFixedBytes > 0 ? ` and ${s.kvFixedBytes.toLocaleString('en-US')} bytes of scales` : '';
  const setup =
    `Budget ${fixed(s.budgetBytes / GIB, 2)} GiB, ${s.kvDtype} KV cache: ` +
    `${s.bytesPerToken.toLocaleString('en-US')} bytes per token${scales}, ` +
    `max context ${s.maxContext.toLocaleString('en-US')}, ${stepModelText(s)}, ` +
    `on full: ${s.onFull}. ${s.requests.toLocaleString('en-US')} requests ` +
    `(${s.skippedRows.toLocaleString('en-US')} trace rows skipped: no prompt or no output), ` +
    `${s.rejectedTooLong.toLocaleString('en-US')} longer than the context (dropped).`;
  const tooLarge = s.policies.filter((p) => p.rejectedTooLarge > 0);
  const rejected = tooLarge.map((p) => `${p.policy}: ${p.rejectedTooLarge}`).join(', ');
  const savings = savingsTable(s);
  const prefix = prefixTable(s);
  return [
    `### ${scenarioTitle(s)}`,
    '',
    setup + (rejected ? ` Larger than the budget (dropped): ${rejected}.` : ''),
    '',
    markdownTable(HEADER, s.policies.map(row)),
    '',
    ...(savings ? [savings, ''] : []),
    ...(prefix ? [prefix, ''] : []),
    latencyTable(s),
  ].join('\n');
}
