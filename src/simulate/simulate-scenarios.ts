/**
 * Several scenarios of one trace, replayed on every core: each (scenario, policy) pair is a job, and
 * worker threads take the jobs, the costliest first (a policy's replay is independent of the others,
 * so the results are the ones simulateTrace gives, in the same order).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { checkTrace } from './check-options.js';
import { defaultPolicies, type PolicySpec } from './memory-policy.js';
import type { ReplayJob, ReplayMessage } from './replay-worker.js';
import {
  simulateTrace,
  type PolicyResult,
  type ScenarioResult,
  type SimulationOptions,
} from './simulate-trace.js';
import { sliceTrace, type Trace } from './trace.js';

export interface ParallelOptions {
  /** Worker threads. Default: the cores there are; 1 replays in this thread. */
  readonly workers?: number;
  /** Called now and then with requests finished over all replays, their total, and replays finished and in all. */
  readonly onProgress?: (
    done: number,
    total: number,
    replays: number,
    replaysTotal: number,
  ) => void;
}

export type ScenarioOptions = Omit<SimulationOptions, 'onProgress'>;

// The replays allocate a page list per request; a larger young generation spares most of the
// collections that copy them (about a fifth of a page-size-1 replay).
const YOUNG_GENERATION_MB = 256;

/** Relative cost of a replay: a page of one token costs one cache operation per token. */
function cost(spec: PolicySpec): number {
  return spec.kind === 'paged' || spec.kind === 'paged-prefix' ? 1 + 16 / spec.pageSize : 1;
}

/** Replays `trace` under each of `scenarios`, in parallel; the results in the order of `scenarios`. */
export async function simulateScenarios(
  trace: Trace,
  scenarios: readonly ScenarioOptions[],
  parallel: ParallelOptions = {},
): Promise<ScenarioResult[]> {
  checkTrace(trace);
  // A replay of no request checks every option here, so a bad one throws its own typed error.
  const empty = sliceTrace(trace, 0);
  const specs = scenarios.map((options) => {
    simulateTrace(empty, options);
    return options.policies ?? defaultPolicies(options.systemPromptTokens ?? 0);
  });
  const jobs = specs.flatMap((list, s) => list.map((spec, p) => ({ s, p, spec })));
  const n = trace.arrival.length;
  const total = n * jobs.length;
  const done = new Float64Array(jobs.length);
  let doneSum = 0;
  let replays = 0;
  const progress = (job: number, value: number) => {
    doneSum += value - done[job];
    done[job] = value;
    parallel.onProgress?.(doneSum, total, replays, jobs.length);
  };
  const results: PolicyResult[][] = specs.map(() => []);
  const heads: ScenarioResult[] = [];
  const store = (job: number, result: ScenarioResult) => {
    const { s, p } = jobs[job];
    replays++;
    progress(job, n);
    results[s][p] = result.policies[0];
    if (p === 0) heads[s] = result;
  };
  const options = (job: number): ScenarioOptions => ({
    ...scenarios[jobs[job].s],
    policies: [jobs[job].spec],
  });

  const workers = Math.min(parallel.workers ?? availableParallelism(), jobs.length);
  if (workers <= 1) {
    jobs.forEach((_, job) =>
      store(job, simulateTrace(trace, { ...options(job), onProgress: (d) => progress(job, d) })),
    );
  } else {
    const order = jobs.map((_, job) => job);
    order.sort((a, b) => cost(jobs[b].spec) - cost(jobs[a].spec) || a - b);
    await runWorkers(trace, workers, order, options, progress, store);
  }
  return heads.map((head, s) => ({ ...head, policies: results[s] }));
}

function runWorkers(
  trace: Trace,
  count: number,
  order: number[],
  options: (job: number) => ScenarioOptions,
  progress: (job: number, done: number) => void,
  store: (job: number, result: ScenarioResult) => void,
): Promise<void> {
  const { source, arrival, promptTokens, generatedTokens, skippedRows, hashIds } = trace;
  const data: Trace = { source, arrival, promptTokens, generatedTokens, skippedRows, hashIds };
  let next = 0;
  let finished = 0;
  return new Promise((resolve, reject) => {
    const pool = Array.from(
      { length: count },
      () =>
        new Worker(new URL('./replay-worker.js', import.meta.url), {
          workerData: data,
          resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
        }),
    );
    const stop = (error?: Error) => {
      for (const w of pool) void w.terminate();
      if (error) reject(error);
      else resolve();
    };
    const feed = (worker: Worker) => {
      if (next < order.length) {
        const job: ReplayJob = { job: order[next], options: options(order[next]) };
        next++;
        worker.postMessage(job);
      }
    };
    for (const worker of pool) {
      worker.on('message', (m: ReplayMessage) => {
        if ('error' in m) return stop(new Error(`replay failed: ${m.error}`));
        if ('done' in m) return progress(m.job, m.done);
        store(m.job, m.result);
        if (++finished === order.length) return stop();
        feed(worker);
      });
      worker.on('error', (e) => stop(e));
      feed(worker);
    }
  });
}
