/**
 * Collects a trace's requests as a file is read, skips (and counts) rows with nothing to simulate,
 * and orders the requests by arrival at the end.
 */
import type { Trace } from './trace.js';

const INITIAL_CAPACITY = 1024;

function grown<T extends Float64Array | Int32Array>(array: T, size: number): T {
  if (size < array.length) return array;
  const bigger = new (array.constructor as new (n: number) => T)(array.length * 2);
  bigger.set(array);
  return bigger;
}

export class TraceBuilder {
  private times = new Float64Array(INITIAL_CAPACITY);
  private prompt = new Int32Array(INITIAL_CAPACITY);
  private generated = new Int32Array(INITIAL_CAPACITY);
  private readonly hashIds: Int32Array[] = [];
  private count = 0;
  /** Rows with zero prompt or zero generated tokens. */
  skippedRows = 0;

  constructor(private readonly source: string) {}

  /** Adds a request, or counts it as skipped when it has no prompt or no token to generate. */
  add(time: number, promptTokens: number, generatedTokens: number, hashIds?: Int32Array): void {
    if (promptTokens === 0 || generatedTokens === 0) {
      this.skippedRows++;
      return;
    }
    this.times = grown(this.times, this.count);
    this.prompt = grown(this.prompt, this.count);
    this.generated = grown(this.generated, this.count);
    this.times[this.count] = time;
    this.prompt[this.count] = promptTokens;
    this.generated[this.count] = generatedTokens;
    if (hashIds !== undefined) this.hashIds.push(hashIds);
    this.count++;
  }

  /** The requests in order of arrival (stable), times in seconds after the first. */
  build(): Trace {
    const n = this.count;
    const order = Array.from({ length: n }, (_, i) => i);
    const times = this.times;
    order.sort((a, b) => times[a] - times[b] || a - b);
    const t0 = n > 0 ? times[order[0]] : 0;
    const hashIds = this.hashIds;
    return {
      source: this.source,
      arrival: Float64Array.from(order, (i) => times[i] - t0),
      promptTokens: Int32Array.from(order, (i) => this.prompt[i]),
      generatedTokens: Int32Array.from(order, (i) => this.generated[i]),
      skippedRows: this.skippedRows,
      ...(hashIds.length === n && n > 0 ? { hashIds: order.map((i) => hashIds[i]) } : {}),
    };
  }
}
