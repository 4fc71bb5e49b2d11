/**
 * What a replay's users see: time to first token (TTFT, arrival to the end of the step that
 * decodes a request's first token) and time per output token after it (TPOT), and goodput, the
 * requests a second that met both service-level objectives.
 */

/** Default objectives: a reply starts within 2 s and then streams at 10 tokens/s or faster. */
export const DEFAULT_SLO_TTFT_SECONDS = 2;
export const DEFAULT_SLO_TPOT_SECONDS = 0.1;

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
}

export interface LatencyResult {
  /** Arrival to first output token, over completed requests (a preempted one from its arrival). */
  readonly ttftSeconds: Percentiles;
  /** (completion - first token) / (generated - 1), over completed requests of 2 tokens or more. */
  readonly tpotSeconds: Percentiles;
  readonly goodput: {
    /** Completed requests within both objectives (one of fewer than 2 tokens has no TPOT to miss). */
    readonly requests: number;
    /** Those requests over the makespan. */
    readonly requestsPerSecond: number;
  };
}

/** Nearest-rank percentile of sorted values (0 when empty). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

function percentiles(values: Float64Array): Percentiles {
  values.sort();
  return { p50: percentile(values, 0.5), p99: percentile(values, 0.99) };
}

/** Records, step by step, when each request shows its first token and when it completes. */
export class LatencyRecorder {
  private readonly firstToken: Float64Array;
  private readonly completion: Float64Array;
  /** Requests whose first token comes out of the step under way (its end time is not known yet). */
  private readonly starting: Int32Array;
  private startingCount = 0;

  constructor(numRequests: number) {
    this.firstToken = new Float64Array(numRequests).fill(NaN);
    this.completion = new Float64Array(numRequests).fill(NaN);
    this.starting = new Int32Array(numRequests);
  }

  /** `r` decoded its first token in this step (or, with none to generate, was admitted in it). */
  firstTokenInStep(r: number): void {
    if (Number.isNaN(this.firstToken[r])) this.starting[this.startingCount++] = r;
  }

  /** The step under way ended at `clock`. */
  endStep(clock: number): void {
    for (let i = 0; i < this.startingCount; i++) this.firstToken[this.starting[i]] = clock;
    this.startingCount = 0;
  }

  /** `r` completed at the end of the step that ended at `clock`. */
  complete(r: number, clock: number): void {
    this.completion[r] = clock;
  }

  result(
    arrival: Float64Array,
    generated: Int32Array,
    makespanSeconds: number,
    slo: { readonly ttftSeconds: number; readonly tpotSeconds: number },
  ): LatencyResult {
    const n = arrival.length;
    const ttft: number[] = [];
    const tpot: number[] = [];
    let good = 0;
    for (let r = 0; r < n; r++) {
      if (Number.isNaN(this.completion[r])) continue; // dropped
      const t = this.firstToken[r] - arrival[r];
      ttft.push(t);
      let ok = t <= slo.ttftSeconds;
      if (generated[r] >= 2) {
        const perToken = (this.completion[r] - this.firstToken[r]) / (generated[r] - 1);
        tpot.push(perToken);
        ok &&= perToken <= slo.tpotSeconds;
      }
      if (ok) good++;
    }
    return {
      ttftSeconds: percentiles(Float64Array.from(ttft)),
      tpotSeconds: percentiles(Float64Array.from(tpot)),
      goodput: {
        requests: good,
        requestsPerSecond: makespanSeconds > 0 ? good / makespanSeconds : 0,
      },
    };
  }
}
