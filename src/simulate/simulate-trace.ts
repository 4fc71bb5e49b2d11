/**
 * Replays a request trace through a continuous-batching server under a KV-cache memory budget,
 * once per memory policy, and measures memory, concurrency, queueing, decode throughput and latency.
 *
 * The server model, one step at a time:
 * - Requests arrive at their (scaled) timestamps and wait in one first-come, first-served queue.
 *   Requests longer than the model's context (system prompt + prompt + generated) are dropped, as
 *   are those the budget could not hold even alone; both are counted.
 * - A step first gives every running request one more token (decode), oldest first, then admits
 *   queued requests from the head while the policy finds memory for them (a head that does not fit
 *   blocks the ones behind it). An admitted request's prefill (its whole prompt, less what it
 *   shares) is computed in the step that admits it, or with chunked prefill a chunk a step within
 *   a budget of prompt tokens per step (its memory is taken at admission all the same); it decodes
 *   from the step after its prefill, one token a step, and ends after its generated tokens, giving
 *   its memory back at the end of that step.
 * - When a running request needs memory that is not there (paged policies only; contiguous ones
 *   reserve everything up front): with `preempt`, the newest running request is preempted (its
 *   memory freed, its tokens recomputed by a prefill when it is admitted again, ahead of the queue)
 *   until the request fits; with `wait`, the request skips the step and keeps what it holds, and
 *   if every running request is stuck so, the newest is preempted after all (else none would end).
 * - A step costs what step-cost.ts says of the work it did (tokens decoded and the keys they
 *   attended, prompt tokens computed): with compute (default) or bandwidth only. A preempted
 *   request's prefill on re-admission computes its prompt and its generated tokens again.
 *   The clock jumps over idle time.
 */
import { describeValue } from '../describe-value.js';
import { ArgumentError } from '../errors.js';
import {
  checkKvDtype,
  checkModel,
  checkNumber,
  checkObject,
  checkPolicies,
  checkTrace,
} from './check-options.js';
import { ContiguousPolicy } from './contiguous-policy.js';
import {
  defaultPolicies,
  policyName,
  type MemoryPolicy,
  type PolicySpec,
  type PrefixStats,
} from './memory-policy.js';
import {
  defaultBudgetBytes,
  modelKvFormat,
  type KvDtype,
  type ModelLayout,
} from './model-layouts.js';
import {
  DEFAULT_SLO_TPOT_SECONDS,
  DEFAULT_SLO_TTFT_SECONDS,
  LatencyRecorder,
  percentile,
  type LatencyResult,
} from './latency.js';
import { MOONCAKE_BLOCK_TOKENS } from './mooncake-jsonl.js';
import { PagedPrefixPolicy } from './paged-prefix-policy.js';
import { PagedPolicy } from './paged-policy.js';
import type { StepCost, StepModel } from './step-cost.js';
import type { StepRates } from './step-rates.js';
import { resolveStepSetup, stepCost, type StepOptions } from './step-setup.js';
import { TimeSeries } from './time-series.js';
import type { Trace } from './trace.js';

export type OnFull = 'wait' | 'preempt';

export interface SimulationOptions extends StepOptions {
  readonly model: ModelLayout;
  /**
   * The cache's dtype, which sets its bytes per token (model-layouts.ts, kvFormat): 'bf16'
   * (default), or 'fp8' in the format of docs/fp8-kv-cache.md that fits the layout (fp8_ds_mla for
   * MLA, fp8_e4m3 for GQA); fp8 needs the model's shapes (`kv`).
   */
  readonly kvDtype?: KvDtype;
  /** Default: defaultPolicies(systemPromptTokens). */
  readonly policies?: readonly PolicySpec[];
  /** KV-cache memory. Default: what an 80 GB card leaves after the model's weights. */
  readonly budgetBytes?: number;
  /** Default: the model's. */
  readonly maxContext?: number;
  /** A synthetic system prompt of this many tokens put before every request's prompt. Default 0. */
  readonly systemPromptTokens?: number;
  /** Arrival times are divided by this (2 = the same requests twice as fast). Default 1. */
  readonly timeScale?: number;
  /** Default 'preempt'. */
  readonly onFull?: OnFull;
  /** Prompt tokens computed per step, over all prefills (chunked prefill). Default 0: no limit. */
  readonly chunkedPrefillTokens?: number;
  /** Goodput's objective for time to first token. Default DEFAULT_SLO_TTFT_SECONDS (2 s). */
  readonly sloTtftSeconds?: number;
  /** Goodput's objective for time per output token after the first. Default 0.1 s. */
  readonly sloTpotSeconds?: number;
  /** Buckets of the memory and running series over the trace's span. Default 400. */
  readonly seriesBuckets?: number;
  /** Called now and then with the requests finished (completed or rejected) over all policies. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface PolicyResult {
  readonly policy: string;
  /** Bytes the policy can hand out: whole pages or whole token slots of the budget. */
  readonly capacityBytes: number;
  readonly completed: number;
  /** Requests the budget could not hold even with the pool to themselves, or longer than the policy's reservation. */
  readonly rejectedTooLarge: number;
  readonly steps: number;
  /** Simulated time spent in steps. */
  readonly busySeconds: number;
  /** From the first arrival to the last completion. */
  readonly makespanSeconds: number;
  /** Means are over busy time, weighted by step time. */
  readonly memory: {
    readonly peakBytes: number;
    readonly meanBytes: number;
    /** Bytes of the tokens held (a shared token once per request), mean. */
    readonly meanTokenBytes: number;
    /** Held but holding no token: reserved-unused slots, or page tails. */
    readonly meanUnusedBytes: number;
    readonly peakUnusedBytes: number;
    /** Free memory outside the largest free region (external fragmentation), mean. */
    readonly meanFragmentedBytes: number;
    /** Requests that waited at least one step although enough memory was free, only not in one piece. */
    readonly requestsDelayedByFragmentation: number;
    readonly meanBytesPerRunningRequest: number;
  };
  readonly running: { readonly mean: number; readonly max: number };
  /** From arrival to first admission, nearest-rank percentiles. */
  readonly queueDelaySeconds: { readonly p50: number; readonly p99: number; readonly mean: number };
  readonly decode: {
    readonly tokens: number;
    /** Decode tokens over busy time. */
    readonly tokensPerSecond: number;
    readonly meanStepSeconds: number;
  };
  /** Time to first token, time per output token, goodput within the scenario's objectives. */
  readonly latency: LatencyResult;
  readonly preemptions: number;
  /** Tokens whose KV was dropped by preemption and computed again by a later prefill. */
  readonly recomputedTokens: number;
  /** Request-steps skipped for want of memory (`wait`). */
  readonly stalledSteps: number;
  /** Prefix-cache policies only: prompt tokens served from the cache, blocks stored and evicted. */
  readonly prefix?: PrefixStats;
  readonly series: {
    readonly bucketSeconds: number;
    readonly memoryBytes: readonly number[];
    readonly running: readonly number[];
  };
}

export interface ScenarioResult {
  readonly model: string;
  readonly layout: string;
  readonly deployment: string;
  readonly kvDtype: KvDtype;
  /** The cache's bytes per token in its dtype. */
  readonly bytesPerToken: number;
  /** The cache's bytes that no token owns (fp8_e4m3's per-tensor scales), taken from the budget. */
  readonly kvFixedBytes: number;
  readonly budgetBytes: number;
  readonly maxContext: number;
  readonly systemPromptTokens: number;
  readonly timeScale: number;
  readonly onFull: OnFull;
  readonly stepModel: StepModel;
  readonly bandwidthBytesPerS: number;
  readonly stepOverheadSeconds: number;
  /** The compute step model's rates. */
  readonly stepRates?: StepRates;
  /** Prompt tokens computed per step; 0: no limit. */
  readonly chunkedPrefillTokens: number;
  readonly sloTtftSeconds: number;
  readonly sloTpotSeconds: number;
  readonly trace: string;
  /** Requests replayed (the trace's, after the rows skipped on reading). */
  readonly requests: number;
  /** Rows of the trace file skipped on reading: no prompt or no token to generate. */
  readonly skippedRows: number;
  /** Requests longer than maxContext, dropped under every policy. */
  readonly rejectedTooLong: number;
  readonly policies: readonly PolicyResult[];
}

interface ReplayConfig {
  readonly arrival: Float64Array;
  readonly promptTokens: Int32Array;
  readonly generatedTokens: Int32Array;
  readonly tooLong: Uint8Array;
  readonly onFull: OnFull;
  readonly bytesPerToken: number;
  readonly stepCost: StepCost;
  /** Prompt tokens a step computes at most (Infinity without chunked prefill). */
  readonly chunkTokens: number;
  readonly bucketSeconds: number;
  readonly slo: { readonly ttftSeconds: number; readonly tpotSeconds: number };
  readonly progress: (done: number) => void;
}

// Often enough for a smooth bar at 30x load (a few tens of thousands of steps a replay).
const PROGRESS_EVERY_STEPS = 1 << 10;

/** Replays `trace` under each policy of `options` (same requests, same budget) and measures each. */
export function simulateTrace(trace: Trace, options: SimulationOptions): ScenarioResult {
  checkTrace(trace);
  checkObject('options', options, 'an object with at least { model }');
  const model = checkModel(options.model);
  const kv = modelKvFormat(model, checkKvDtype('kvDtype', options.kvDtype ?? 'bf16'));
  const systemPromptTokens = checkNumber('systemPromptTokens', options.systemPromptTokens ?? 0, {
    integer: true,
    zero: true,
  });
  const budgetBytes = checkNumber('budgetBytes', options.budgetBytes ?? defaultBudgetBytes(model));
  if (budgetBytes <= kv.fixedBytes) {
    throw new ArgumentError(
      'budgetBytes',
      `more than the ${kv.fixedBytes} bytes of the ${kv.dtype} cache's scales`,
      String(budgetBytes),
    );
  }
  const maxContext = checkNumber('maxContext', options.maxContext ?? model.maxContext, {
    integer: true,
  });
  const timeScale = checkNumber('timeScale', options.timeScale ?? 1);
  const step = resolveStepSetup(model, options);
  const chunkedPrefillTokens = checkNumber(
    'chunkedPrefillTokens',
    options.chunkedPrefillTokens ?? 0,
    { integer: true, zero: true },
  );
  const sloTtftSeconds = checkNumber(
    'sloTtftSeconds',
    options.sloTtftSeconds ?? DEFAULT_SLO_TTFT_SECONDS,
  );
  const sloTpotSeconds = checkNumber(
    'sloTpotSeconds',
    options.sloTpotSeconds ?? DEFAULT_SLO_TPOT_SECONDS,
  );
  const seriesBuckets = checkNumber('seriesBuckets', options.seriesBuckets ?? 400, {
    integer: true,
  });
  const onFull = options.onFull ?? 'preempt';
  if (onFull !== 'wait' && onFull !== 'preempt') {
    throw new ArgumentError('onFull', "'wait' or 'preempt'", describeValue(onFull));
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new ArgumentError('onProgress', 'a function', describeValue(options.onProgress));
  }
  const specs = checkPolicies(options.policies ?? defaultPolicies(systemPromptTokens));
  if (systemPromptTokens > 0 && specs.some((spec) => spec.kind === 'paged-prefix')) {
    // The synthetic prompt would shift every block off the trace's 512-token boundaries.
    throw new ArgumentError(
      'systemPromptTokens',
      "0 with a paged-<pageSize>-prefix policy (it caches the trace's own prefixes)",
      String(systemPromptTokens),
    );
  }

  const n = trace.arrival.length;
  const arrival = trace.arrival.map((t) => t / timeScale);
  const promptTokens = trace.promptTokens.map((p) => p + systemPromptTokens);
  const tooLong = new Uint8Array(n);
  let rejectedTooLong = 0;
  for (let r = 0; r < n; r++) {
    if (promptTokens[r] + trace.generatedTokens[r] > maxContext) {
      tooLong[r] = 1;
      rejectedTooLong++;
    }
  }
  const span = n > 0 ? arrival[n - 1] : 0;
  const total = n * specs.length;
  const policies = specs.map((spec, i) => {
    const policy = makePolicy(spec, {
      budgetBytes: budgetBytes - kv.fixedBytes,
      bytesPerToken: kv.bytesPerToken,
      maxContext,
      numRequests: n,
      systemPromptTokens,
      promptTokens,
      hashIds: trace.hashIds,
    });
    return replay(policy, {
      arrival,
      promptTokens,
      generatedTokens: trace.generatedTokens,
      tooLong,
      onFull,
      bytesPerToken: kv.bytesPerToken,
      stepCost: stepCost(model, step, kv.bytesPerToken),
      chunkTokens: chunkedPrefillTokens > 0 ? chunkedPrefillTokens : Infinity,
      bucketSeconds: span > 0 ? span / seriesBuckets : 1,
      slo: { ttftSeconds: sloTtftSeconds, tpotSeconds: sloTpotSeconds },
      progress: (done) => options.onProgress?.(i * n + done, total),
    });
  });
  return {
    model: model.name,
    layout: kv.layout,
    deployment: model.deployment,
    kvDtype: kv.dtype,
    bytesPerToken: kv.bytesPerToken,
    kvFixedBytes: kv.fixedBytes,
    budgetBytes,
    maxContext,
    systemPromptTokens,
    timeScale,
    onFull,
    ...step,
    chunkedPrefillTokens,
    sloTtftSeconds,
    sloTpotSeconds,
    trace: trace.source,
    requests: n,
    skippedRows: trace.skippedRows ?? 0,
    rejectedTooLong,
    policies,
  };
}

function makePolicy(
  spec: PolicySpec,
  c: {
    budgetBytes: number;
    bytesPerToken: number;
    maxContext: number;
    numRequests: number;
    systemPromptTokens: number;
    promptTokens: Int32Array;
    hashIds: readonly Int32Array[] | undefined;
  },
): MemoryPolicy {
  if (spec.kind === 'paged') {
    return new PagedPolicy({ ...c, pageSize: spec.pageSize, sharePrefix: spec.sharePrefix });
  }
  if (spec.kind === 'paged-prefix') {
    return new PagedPrefixPolicy({
      ...c,
      pageSize: spec.pageSize,
      blockTokens: MOONCAKE_BLOCK_TOKENS,
    });
  }
  const reserve = { 'contiguous-max': c.maxContext, 'contiguous-exact': undefined };
  return new ContiguousPolicy(
    policyName(spec),
    c.budgetBytes,
    c.bytesPerToken,
    spec.kind === 'contiguous-reserve' ? spec.tokens : reserve[spec.kind],
    c.numRequests,
  );
}

/** A first-come, first-served queue of request indices; preempted requests go back in front. */
class RequestQueue {
  private readonly ring: Int32Array;
  private head = 0;
  size = 0;

  constructor(capacity: number) {
    this.ring = new Int32Array(Math.max(1, capacity));
  }

  get front(): number {
    return this.ring[this.head];
  }

  pushBack(r: number): void {
    this.ring[(this.head + this.size++) % this.ring.length] = r;
  }

  pushFront(r: number): void {
    this.head = (this.head - 1 + this.ring.length) % this.ring.length;
    this.ring[this.head] = r;
    this.size++;
  }

  popFront(): void {
    this.head = (this.head + 1) % this.ring.length;
    this.size--;
  }
}

function replay(policy: MemoryPolicy, c: ReplayConfig): PolicyResult {
  const { arrival, promptTokens, generatedTokens: target, bytesPerToken } = c;
  const n = arrival.length;
  const generated = new Int32Array(n);
  const cached = new Int32Array(n);
  /** Prompt tokens of a running request still to compute, and those computed or shared before them. */
  const prefillLeft = new Int32Array(n);
  const prefillDone = new Int32Array(n);
  const firstAdmitted = new Float64Array(n).fill(NaN);
  const delayedByFragmentation = new Uint8Array(n);
  const queue = new RequestQueue(n);
  const latency = new LatencyRecorder(n);
  /** Running requests in admission order (the newest last). */
  let running: number[] = [];
  const memorySeries = new TimeSeries(c.bucketSeconds);
  const runningSeries = new TimeSeries(c.bucketSeconds);

  let clock = n > 0 ? arrival[0] : 0;
  let nextArrival = 0;
  let done = 0;
  let completed = 0;
  let rejectedTooLarge = 0;
  let cachedTokens = 0; // sum of `cached` over running requests
  let steps = 0;
  let busy = 0;
  let decodeTokens = 0;
  let preemptions = 0;
  let recomputedTokens = 0;
  let stalledSteps = 0;
  let peakBytes = 0;
  let peakUnusedBytes = 0;
  let maxRunning = 0;
  let memoryTime = 0;
  let tokenTime = 0;
  let unusedTime = 0;
  let fragmentedTime = 0;
  let runningTime = 0;

  const preemptNewest = (): number => {
    const victim = running.pop()!;
    policy.release(victim);
    cachedTokens -= cached[victim];
    // Tokens of a prefill not yet computed were never there to drop.
    recomputedTokens += cached[victim] - prefillLeft[victim];
    prefillLeft[victim] = 0;
    queue.pushFront(victim);
    preemptions++;
    return victim;
  };

  while (done < n) {
    for (; nextArrival < n && arrival[nextArrival] <= clock; nextArrival++) {
      const r = nextArrival;
      if (c.tooLong[r] || !policy.fitsAlone(promptTokens[r] + target[r])) {
        if (!c.tooLong[r]) rejectedTooLarge++;
        done++;
        continue;
      }
      queue.pushBack(r);
    }
    if (running.length === 0 && queue.size === 0) {
      if (nextArrival < n) {
        clock = arrival[nextArrival];
        continue;
      }
      // Nothing left to wait for: requests unaccounted for are a bug, not a state to spin in.
      if (done < n) throw new Error(`simulator: ${n - done} requests lost`);
      continue;
    }

    // Decode: every running request past its prefill takes one more token, oldest first.
    let advanced = 0;
    let decodeKeys = 0;
    let finishing = 0;
    for (let k = 0; k < running.length; k++) {
      const r = running[k];
      if (prefillLeft[r] > 0) continue;
      let room = policy.grow(r);
      if (!room && c.onFull === 'wait') {
        stalledSteps++;
        continue;
      }
      while (!room && preemptNewest() !== r) room = policy.grow(r);
      if (!room) break; // r itself was the newest and went back to the queue
      cached[r]++;
      cachedTokens++;
      decodeKeys += cached[r];
      if (++generated[r] === 1) latency.firstTokenInStep(r);
      decodeTokens++;
      advanced++;
      if (generated[r] === target[r]) finishing++;
    }

    // Prefill: chunks of the prefills under way (oldest first), then of the requests admitted.
    let chunkLeft = c.chunkTokens;
    let prefillTokens = 0;
    let prefillPairs = 0;
    let prefillKeys = 0;
    const prefill = (r: number): void => {
      const p = Math.min(prefillLeft[r], chunkLeft);
      const before = prefillDone[r];
      // Each new token attends the tokens before it and itself (causal).
      prefillPairs += p * before + (p * (p + 1)) / 2;
      prefillKeys += before + p;
      prefillTokens += p;
      chunkLeft -= p;
      prefillDone[r] = before + p;
      prefillLeft[r] -= p;
      if (prefillLeft[r] > 0) return;
      if (target[r] === 0) latency.firstTokenInStep(r); // its prefill is all it returns
      if (generated[r] === target[r]) finishing++; // nothing to generate
    };
    for (let k = 0; k < running.length && chunkLeft > 0; k++) {
      if (prefillLeft[running[k]] > 0) prefill(running[k]);
    }

    // Admission, first come first served, while the step has prefill tokens to spare.
    let admitted = 0;
    while (queue.size > 0 && chunkLeft > 0) {
      const r = queue.front;
      const tokens = promptTokens[r] + generated[r];
      const admission = policy.admit(r, tokens, promptTokens[r] + target[r]);
      if (admission !== 'admitted') {
        if (admission === 'fragmented') delayedByFragmentation[r] = 1;
        break;
      }
      queue.popFront();
      running.push(r);
      cached[r] = tokens;
      cachedTokens += tokens;
      // Its prompt and any tokens it generated before a preemption, less what it shares.
      prefillDone[r] = policy.sharedTokens?.(r) ?? 0;
      prefillLeft[r] = tokens - prefillDone[r];
      if (Number.isNaN(firstAdmitted[r])) firstAdmitted[r] = clock;
      prefill(r);
      admitted++;
    }

    if (advanced === 0 && admitted === 0 && prefillTokens === 0) {
      // Every running request is stuck waiting for memory that only they could free.
      if (running.length === 0) throw new Error('simulator: the queue head can never be admitted');
      preemptNewest();
      continue;
    }

    const dt = c.stepCost({
      cachedTokens,
      decodeTokens: advanced,
      decodeKeys,
      prefillTokens,
      prefillPairs,
      prefillKeys,
    });
    const inUse = policy.slotsInUse() * bytesPerToken;
    const unused = policy.slotsUnused(cachedTokens) * bytesPerToken;
    peakBytes = Math.max(peakBytes, inUse);
    peakUnusedBytes = Math.max(peakUnusedBytes, unused);
    maxRunning = Math.max(maxRunning, running.length);
    memoryTime += inUse * dt;
    tokenTime += cachedTokens * bytesPerToken * dt;
    unusedTime += unused * dt;
    fragmentedTime += policy.fragmentedSlots() * bytesPerToken * dt;
    runningTime += running.length * dt;
    memorySeries.add(clock, dt, inUse);
    runningSeries.add(clock, dt, running.length);
    clock += dt;
    busy += dt;
    steps++;
    latency.endStep(clock);

    if (finishing > 0) {
      running = running.filter((r) => {
        if (generated[r] !== target[r]) return true;
        policy.release(r);
        latency.complete(r, clock);
        cachedTokens -= cached[r];
        completed++;
        done++;
        return false;
      });
    }
    if ((steps & (PROGRESS_EVERY_STEPS - 1)) === 0) c.progress(done);
  }
  c.progress(done);

  const delays = new Float64Array(completed);
  let k = 0;
  for (let r = 0; r < n; r++) {
    if (!Number.isNaN(firstAdmitted[r])) delays[k++] = firstAdmitted[r] - arrival[r];
  }
  delays.sort();
  const perBusySecond = (x: number): number => (busy > 0 ? x / busy : 0);
  const meanRunning = perBusySecond(runningTime);
  const makespanSeconds = n > 0 ? clock - arrival[0] : 0;
  return {
    policy: policy.name,
    capacityBytes: policy.capacitySlots * bytesPerToken,
    completed,
    rejectedTooLarge,
    steps,
    busySeconds: busy,
    makespanSeconds,
    memory: {
      peakBytes,
      meanBytes: perBusySecond(memoryTime),
      meanTokenBytes: perBusySecond(tokenTime),
      meanUnusedBytes: perBusySecond(unusedTime),
      peakUnusedBytes,
      meanFragmentedBytes: perBusySecond(fragmentedTime),
      requestsDelayedByFragmentation: delayedByFragmentation.reduce((a, b) => a + b, 0),
      meanBytesPerRunningRequest: meanRunning > 0 ? perBusySecond(memoryTime) / meanRunning : 0,
    },
    running: { mean: meanRunning, max: maxRunning },
    queueDelaySeconds: {
      p50: percentile(delays, 0.5),
      p99: percentile(delays, 0.99),
      mean: delays.length > 0 ? delays.reduce((a, b) => a + b, 0) / delays.length : 0,
    },
    decode: {
      tokens: decodeTokens,
      tokensPerSecond: perBusySecond(decodeTokens),
      meanStepSeconds: steps > 0 ? busy / steps : 0,
    },
    latency: latency.result(arrival, target, makespanSeconds, c.slo),
    preemptions,
    recomputedTokens,
    stalledSteps,
    ...(policy.prefixStats !== undefined ? { prefix: policy.prefixStats() } : {}),
    series: {
      bucketSeconds: c.bucketSeconds,
      memoryBytes: memorySeries.means(),
      running: runningSeries.means(),
    },
  };
}
