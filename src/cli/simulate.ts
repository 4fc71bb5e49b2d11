/**
 * `flash-mla simulate`: the memory study. Replays a request trace through the KV-cache manager under
 * a memory budget, once per allocation policy, and prints a table, writes the results as JSON and
 * plots memory held and requests running over time as SVG.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import {
  parseFlags,
  UsageError,
  usageErrorText,
  wantsHelp,
  type FlagSpec,
  type FlagValue,
} from './args.js';
import type { Writable } from 'node:stream';
import { FlashMlaError } from '../errors.js';
import { packageRoot } from '../package-root.js';
import {
  defaultPolicies,
  parsePolicyName,
  policyName,
  prefixPolicies,
  type PolicySpec,
} from '../simulate/memory-policy.js';
import {
  CARD_BYTES,
  DEFAULT_BANDWIDTH_BYTES_PER_S,
  GIB,
  KV_DTYPES,
  MODEL_LAYOUTS,
  type KvDtype,
  type ModelLayout,
} from '../simulate/model-layouts.js';
import { DEFAULT_SLO_TPOT_SECONDS, DEFAULT_SLO_TTFT_SECONDS } from '../simulate/latency.js';
import { formatScenario } from '../simulate/report-table.js';
import type { StepModel } from '../simulate/step-cost.js';
import { H200_COPY_BYTES_PER_S } from '../simulate/step-rates.js';
import { simulateScenarios } from '../simulate/simulate-scenarios.js';
import { type OnFull, type ScenarioResult } from '../simulate/simulate-trace.js';
import { renderStudyPlot } from '../simulate/svg-plot.js';
import {
  AZURE_CONV_TRACE,
  readTrace,
  sliceTrace,
  traceAttribution,
  TRACE_FORMATS,
  type Trace,
  type TraceFormat,
} from '../simulate/trace.js';
import { ProgressBar } from './progress-bar.js';

const USAGE = `Usage: flash-mla simulate [options]

Replays a request trace (CSV with columns TIMESTAMP,ContextTokens,GeneratedTokens, or Mooncake
JSONL with timestamp, input_length, output_length, hash_ids) through a continuous-batching server under a KV-cache memory budget, once per allocation policy, and reports
memory held and wasted, requests running, queueing delay and decode throughput.

Options (lists are comma-separated; one run per model x time scale x system prompt x KV dtype):
  --trace <path>             trace file; needed when installed from npm. The Azure LLM
                             inference trace is AzureLLMInferenceTrace_conv.csv in Microsoft's
                             AzurePublicDataset on GitHub (default, in a source checkout only:
                             ../shared/data/${AZURE_CONV_TRACE.fileName} from its root)
  --format <csv|mooncake>    trace format (default: mooncake for a .jsonl file, else csv)
  --strict                   a row with zero prompt or zero generated tokens is an error
                             (default: such rows are skipped and counted)
  --model <names>            ${MODEL_LAYOUTS.map((m) => m.name).join(', ')} (default: both)
  --policies <names>         contiguous-max, contiguous-exact, paged-<pageSize>,
                             paged-<pageSize>-shared, paged-<pageSize>-prefix (default:
                             contiguous-max, contiguous-exact, paged-1, paged-16, paged-64, and
                             their -shared variants when there is a system prompt)
  --prefix-cache             adds paged-1-prefix, paged-16-prefix, paged-64-prefix: a prefix cache
                             over the trace's hash_ids (needs a Mooncake trace, no system prompt)
  --reserve <tokens|model>   contiguous baselines that reserve this many tokens per request
                             (model: the model's context), in place of contiguous-max; longer
                             requests are dropped by that baseline (e.g. 4096,8192,model)
  --budget-gib <GiB>         KV-cache memory (default: an 80 GB card less the model's weights)
  --max-context <tokens>     longest request served; longer ones are rejected (default: the model's)
  --system-prompt <tokens>   synthetic variant: a shared system prompt of this many tokens before
                             every prompt (default 0: the trace as it is)
  --time-scale <x>           arrivals x times as fast as recorded; below 1, slower (default 1)
  --kv-dtype <bf16|fp8>      the KV cache's dtype, which sets its bytes per token: fp8 is
                             fp8_ds_mla for MLA (656 bytes a token and layer), fp8_e4m3 for GQA
                             (1 byte a value, a scale per layer's K and V cache); matrix rates
                             stay bf16's (default bf16)
  --on-full <wait|preempt>   when a running request finds no free page: it waits, or the newest
                             request is preempted and later recomputed (default preempt)
  --step-model <compute|bandwidth>
                             compute (default): each step's linear layers, decode attention and
                             prefill at the H200's measured matrix and copy rates; bandwidth: a
                             fixed cost plus the KV bytes read, no compute (the earlier model)
  --chunked-prefill <tokens> prompt tokens computed per step over all prefills (default: off,
                             a request's whole prefill in the step that admits it)
  --bandwidth-gbs <GB/s>     copy rate of the step model (default: compute ${H200_COPY_BYTES_PER_S / 1e9},
                             bandwidth ${DEFAULT_BANDWIDTH_BYTES_PER_S / 1e9}, the measured copy ceilings)
  --step-overhead-ms <ms>    fixed cost of a step (default: compute 0, bandwidth reading the
                             card's weights once)
  --slo-ttft <s>             goodput's objective for time to first token (default ${DEFAULT_SLO_TTFT_SECONDS})
  --slo-tpot <s>             goodput's objective for time per output token after the first
                             (default ${DEFAULT_SLO_TPOT_SECONDS})
  --limit <n>                replay only the first n requests
  --json <path>              results (default ./memory-study.json)
  --plot <path>              SVG plot (default ./memory-study.svg)
  --progress, --no-progress  progress bar on stderr (default: only when stderr is a terminal)
  -h, --help                 this text
`;

interface Flags {
  trace: string;
  format: TraceFormat | undefined;
  strict: boolean;
  models: ModelLayout[];
  policies: PolicySpec[] | undefined;
  prefixCache: boolean;
  reserve: PolicySpec[] | undefined;
  budgetBytes: number | undefined;
  maxContext: number | undefined;
  systemPrompts: number[];
  timeScales: number[];
  kvDtypes: KvDtype[];
  onFull: OnFull;
  stepModel: StepModel;
  chunkedPrefillTokens: number | undefined;
  bandwidthBytesPerS: number | undefined;
  stepOverheadSeconds: number | undefined;
  sloTtftSeconds: number | undefined;
  sloTpotSeconds: number | undefined;
  limit: number | undefined;
  json: string;
  plot: string;
  progress: boolean | undefined;
}

/** Where to get a trace, said when `--trace` is missing and there is no default. */
export const TRACE_SOURCE_HINT =
  "Get the Azure LLM inference trace (file AzureLLMInferenceTrace_conv.csv, in Microsoft's " +
  'AzurePublicDataset on GitHub: https://github.com/Azure/AzurePublicDataset) and pass ' +
  '--trace <path>.';

/**
 * The trace read when `--trace` is absent: ../shared/data/<Azure trace> beside `root`, but only in
 * a source checkout (a .git at `root`) where that file exists; otherwise a UsageError saying where
 * to get a trace. An installed package (inside node_modules) has no default.
 */
export function defaultTracePath(root: string = packageRoot()): string {
  const path = resolve(root, '../shared/data', AZURE_CONV_TRACE.fileName);
  if (existsSync(join(root, '.git')) && existsSync(path)) return path;
  throw new UsageError(`--trace: a trace file is needed. ${TRACE_SOURCE_HINT}`);
}

const POSITIVE = { min: 0, minExclusive: true } as const;

const FLAGS: Record<string, FlagSpec> = {
  trace: { kind: 'string' },
  format: { kind: 'string', choices: TRACE_FORMATS },
  strict: { kind: 'boolean' },
  model: { kind: 'string-list', choices: MODEL_LAYOUTS.map((m) => m.name) },
  policies: { kind: 'string-list' },
  'prefix-cache': { kind: 'boolean' },
  reserve: { kind: 'int-list', min: 1, words: ['model'] },
  'budget-gib': { kind: 'number', ...POSITIVE },
  'max-context': { kind: 'int', min: 1 },
  'system-prompt': { kind: 'int-list', min: 0, default: [0] },
  'time-scale': { kind: 'number-list', ...POSITIVE, default: [1] },
  'kv-dtype': { kind: 'string-list', choices: KV_DTYPES, default: ['bf16'] },
  'on-full': { kind: 'string', choices: ['wait', 'preempt'], default: 'preempt' },
  'step-model': { kind: 'string', choices: ['compute', 'bandwidth'], default: 'compute' },
  'chunked-prefill': { kind: 'int', min: 1 },
  'bandwidth-gbs': { kind: 'number', ...POSITIVE },
  'step-overhead-ms': { kind: 'number', min: 0 },
  'slo-ttft': { kind: 'number', ...POSITIVE },
  'slo-tpot': { kind: 'number', ...POSITIVE },
  limit: { kind: 'int', min: 1 },
  // The current directory, never over the package's own recorded results.
  json: { kind: 'string', default: 'memory-study.json' },
  plot: { kind: 'string', default: 'memory-study.svg' },
  progress: { kind: 'boolean' },
  'no-progress': { kind: 'boolean' },
};

/** `f` of a number flag's value, or undefined when the flag is absent. */
const mapped = (value: FlagValue | undefined, f: (x: number) => number): number | undefined =>
  value === undefined ? undefined : f(value as number);

function readFlags(argv: string[]): Flags {
  const { values: v } = parseFlags(argv, FLAGS);
  const models =
    v.model === undefined
      ? [...MODEL_LAYOUTS]
      : (v.model as string[]).map((name) => MODEL_LAYOUTS.find((m) => m.name === name)!);
  const policies = (v.policies as string[] | undefined)?.map((name) => {
    try {
      return parsePolicyName(name);
    } catch (e) {
      throw new UsageError(`--policies: ${(e as Error).message}`);
    }
  });
  const reserve = (v.reserve as (number | string)[] | undefined)?.map((tokens): PolicySpec =>
    typeof tokens === 'number'
      ? { kind: 'contiguous-reserve', tokens }
      : { kind: 'contiguous-max' },
  );
  if (v.progress && v['no-progress'])
    throw new UsageError('--progress and --no-progress: expected one, got both');
  return {
    trace: (v.trace as string | undefined) ?? defaultTracePath(),
    format: v.format as TraceFormat | undefined,
    strict: v.strict === true,
    models,
    policies,
    prefixCache: v['prefix-cache'] === true,
    reserve,
    budgetBytes: mapped(v['budget-gib'], (gib) => gib * GIB),
    maxContext: v['max-context'] as number | undefined,
    systemPrompts: v['system-prompt'] as number[],
    timeScales: v['time-scale'] as number[],
    kvDtypes: v['kv-dtype'] as KvDtype[],
    onFull: v['on-full'] as OnFull,
    stepModel: v['step-model'] as StepModel,
    chunkedPrefillTokens: v['chunked-prefill'] as number | undefined,
    bandwidthBytesPerS: mapped(v['bandwidth-gbs'], (gbs) => gbs * 1e9),
    stepOverheadSeconds: mapped(v['step-overhead-ms'], (ms) => ms / 1e3),
    sloTtftSeconds: v['slo-ttft'] as number | undefined,
    sloTpotSeconds: v['slo-tpot'] as number | undefined,
    limit: v.limit as number | undefined,
    json: v.json as string,
    plot: v.plot as string,
    progress: v.progress ? true : v['no-progress'] ? false : undefined,
  };
}

/**
 * The policies of a run: --reserve's baselines in place of the maximum-context one, and with
 * --prefix-cache the prefix-cache policies not already named.
 */
function withBaselines(flags: Flags, systemPromptTokens: number): PolicySpec[] | undefined {
  let policies = flags.policies;
  if (flags.reserve !== undefined) {
    const rest = (policies ?? defaultPolicies(systemPromptTokens)).filter(
      (p) => p.kind !== 'contiguous-max' && p.kind !== 'contiguous-reserve',
    );
    policies = [...flags.reserve, ...rest];
  }
  if (!flags.prefixCache) return policies;
  policies ??= defaultPolicies(systemPromptTokens);
  const named = new Set(policies.map(policyName));
  return [...policies, ...prefixPolicies().filter((p) => !named.has(policyName(p)))];
}

/** The JSON record: setup and every scenario's figures (without the plot's time series). */
function resultsJson(
  flags: Flags,
  argv: string[],
  trace: Trace,
  scenarios: ScenarioResult[],
  attribution: string | undefined,
): string {
  return (
    JSON.stringify(
      {
        command: ['flash-mla', 'simulate', ...argv].join(' '),
        createdAt: new Date().toISOString(),
        trace: {
          path: relative(process.cwd(), resolve(flags.trace)),
          requests: trace.arrival.length,
          skippedRows: trace.skippedRows ?? 0,
          ...(attribution !== undefined ? { attribution } : {}),
        },
        cardBytes: CARD_BYTES,
        scenarios: scenarios.map((s) => ({
          ...s,
          policies: s.policies.map(({ series: _series, ...rest }) => rest),
        })),
      },
      null,
      2,
    ) + '\n'
  );
}

function writeOut(path: string, text: string): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  writeFileSync(path, text);
}

export interface CommandIo {
  readonly stdout: Writable;
  readonly stderr: Writable & { isTTY?: boolean };
}

/** Runs `flash-mla simulate` with `argv` (the arguments after `simulate`); returns the exit code. */
export async function runSimulateCommand(
  argv: string[],
  io: CommandIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  if (wantsHelp(argv)) {
    io.stdout.write(USAGE);
    return 0;
  }
  let flags: Flags;
  try {
    flags = readFlags(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(usageErrorText('simulate', e.message));
    return 2;
  }

  let trace: Trace;
  try {
    // Read it all first: a malformed line stops the run before anything is reported.
    trace = readTrace(flags.trace, { format: flags.format, strict: flags.strict });
  } catch (e) {
    const reason =
      e instanceof FlashMlaError
        ? e.message
        : `cannot read ${flags.trace}: ${(e as Error).message}`;
    io.stderr.write(`flash-mla simulate: ${reason}\n`);
    return 1;
  }
  if (flags.limit !== undefined) trace = sliceTrace(trace, flags.limit);
  if (flags.prefixCache && trace.hashIds === undefined) {
    io.stderr.write(
      `flash-mla simulate: --prefix-cache: expected a trace with hash_ids (Mooncake JSONL), got ${flags.trace}\n`,
    );
    return 2;
  }

  const runs = flags.models.flatMap((model) =>
    flags.timeScales.flatMap((timeScale) =>
      flags.systemPrompts.flatMap((systemPromptTokens) =>
        flags.kvDtypes.map((kvDtype) => ({ model, timeScale, systemPromptTokens, kvDtype })),
      ),
    ),
  );
  const showProgress = flags.progress ?? io.stderr.isTTY === true;
  const bar = showProgress ? new ProgressBar(io.stderr) : undefined;
  let scenarios: ScenarioResult[];
  try {
    scenarios = await simulateScenarios(
      trace,
      runs.map((run) => ({
        ...run,
        policies: withBaselines(flags, run.systemPromptTokens),
        budgetBytes: flags.budgetBytes,
        maxContext: flags.maxContext,
        onFull: flags.onFull,
        stepModel: flags.stepModel,
        chunkedPrefillTokens: flags.chunkedPrefillTokens,
        bandwidthBytesPerS: flags.bandwidthBytesPerS,
        stepOverheadSeconds: flags.stepOverheadSeconds,
        sloTtftSeconds: flags.sloTtftSeconds,
        sloTpotSeconds: flags.sloTpotSeconds,
      })),
      {
        onProgress: (done, total, replays, replaysTotal) =>
          bar?.update(done / Math.max(1, total), `${replays}/${replaysTotal} replays`),
      },
    );
  } catch (e) {
    bar?.done();
    if (!(e instanceof FlashMlaError)) throw e;
    // The flags asked for something the simulator cannot set up (e.g. a budget below one page).
    io.stderr.write(`flash-mla simulate: ${e.message}\n`);
    return 2;
  }
  bar?.done();

  const skipped = (trace.skippedRows ?? 0).toLocaleString('en-US');
  const report = [
    `## Memory study: ${trace.arrival.length.toLocaleString('en-US')} requests of ${relative(process.cwd(), resolve(flags.trace))} (${skipped} rows skipped: no prompt or no output)`,
    '',
    ...scenarios.flatMap((s) => [formatScenario(s), '']),
  ].join('\n');
  const attribution = traceAttribution(flags.trace);
  const json = resultsJson(flags, argv, trace, scenarios, attribution);
  const svg = renderStudyPlot(
    scenarios,
    `Trace: ${basename(flags.trace)}${attribution ? ` (${attribution})` : ''}`,
  );
  writeOut(flags.json, json);
  writeOut(flags.plot, svg);
  io.stdout.write(`${report}Results: ${flags.json}\nPlot: ${flags.plot}\n`);
  return 0;
}
