/**
 * Request traces: one request a line, `TIMESTAMP,ContextTokens,GeneratedTokens` (the columns of the
 * Azure LLM inference traces; other columns are ignored, any order). The whole file is checked
 * before anything is simulated; the first malformed line stops it with a TraceFormatError.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { FlashMlaError } from '../errors.js';

/** A trace as arrays indexed by request, sorted by arrival. */
export interface Trace {
  /** Where it came from (a path or a label), for messages and reports. */
  readonly source: string;
  /** Arrival time in seconds after the first request. */
  readonly arrival: Float64Array;
  readonly promptTokens: Int32Array;
  readonly generatedTokens: Int32Array;
}

/** A line of a trace file that cannot be read; names the file, the line (1-based) and the field. */
export class TraceFormatError extends FlashMlaError {
  override name = 'TraceFormatError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${file}:${line}: ${field}: expected ${expected}, got ${actual}`);
  }
}

const COLUMNS = ['TIMESTAMP', 'ContextTokens', 'GeneratedTokens'] as const;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)Z?$/;
const SECONDS = /^\d+(?:\.\d+)?$/;
const COUNT = /^\d+$/;
const MAX_TOKENS = 2 ** 31 - 1;

/** Seconds since the epoch (UTC) of `2023-11-16 18:15:46.6805900`, or plain seconds; NaN if neither. */
function parseTimestamp(text: string): number {
  if (SECONDS.test(text)) return Number(text);
  const m = DATE_TIME.exec(text);
  if (m === null) return NaN;
  const [year, month, day, hour, minute] = m.slice(1, 6).map(Number);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second >= 61) {
    return NaN;
  }
  return Date.UTC(year, month - 1, day, hour, minute) / 1000 + second;
}

/** Parses the text of a trace file; `file` names it in errors. */
export function parseTrace(text: string, file: string): Trace {
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  const header = lines[0].replace(/\r$/, '').split(',');
  const index = COLUMNS.map((name) => {
    const i = header.indexOf(name);
    if (i < 0)
      throw new TraceFormatError(file, 1, 'header', `a column ${name}`, JSON.stringify(lines[0]));
    return i;
  });
  const n = lines.length - 1;
  const times = new Float64Array(n);
  const prompt = new Int32Array(n);
  const generated = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const lineNo = r + 2;
    const fields = lines[r + 1].replace(/\r$/, '').split(',');
    if (fields.length !== header.length) {
      throw new TraceFormatError(
        file,
        lineNo,
        'line',
        `${header.length} fields`,
        `${fields.length}`,
      );
    }
    const [ts, context, gen] = index.map((i) => fields[i].trim());
    times[r] = parseTimestamp(ts);
    if (!Number.isFinite(times[r])) {
      throw new TraceFormatError(
        file,
        lineNo,
        COLUMNS[0],
        'a date and time (2023-11-16 18:15:46.68) or seconds',
        JSON.stringify(ts),
      );
    }
    prompt[r] = parseCount(context, 1, file, lineNo, COLUMNS[1]);
    generated[r] = parseCount(gen, 0, file, lineNo, COLUMNS[2]);
  }
  return sortedByArrival(file, times, prompt, generated);
}

function parseCount(text: string, min: number, file: string, line: number, field: string): number {
  const value = COUNT.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= MAX_TOKENS)) {
    throw new TraceFormatError(file, line, field, `an integer >= ${min}`, JSON.stringify(text));
  }
  return value;
}

/** Orders requests by arrival (stable) and makes times relative to the first. */
function sortedByArrival(
  source: string,
  times: Float64Array,
  prompt: Int32Array,
  generated: Int32Array,
): Trace {
  const order = Array.from({ length: times.length }, (_, i) => i);
  order.sort((a, b) => times[a] - times[b] || a - b);
  const t0 = times.length > 0 ? times[order[0]] : 0;
  return {
    source,
    arrival: Float64Array.from(order, (i) => times[i] - t0),
    promptTokens: Int32Array.from(order, (i) => prompt[i]),
    generatedTokens: Int32Array.from(order, (i) => generated[i]),
  };
}

/** Reads and parses a trace file. */
export function readTrace(path: string): Trace {
  return parseTrace(readFileSync(path, 'utf8'), path);
}

/** The first `count` requests of `trace`. */
export function sliceTrace(trace: Trace, count: number): Trace {
  return {
    source: trace.source,
    arrival: trace.arrival.slice(0, count),
    promptTokens: trace.promptTokens.slice(0, count),
    generatedTokens: trace.generatedTokens.slice(0, count),
  };
}

/** The study's default trace (its file name), and the credit any use or copy of it must carry. */
export const AZURE_CONV_TRACE = {
  fileName: 'azure-llm-inference-2023-conv.csv',
  attribution:
    'Azure LLM inference trace 2023, conversation service (AzureLLMInferenceTrace_conv.csv), ' +
    'Azure Public Dataset, CC-BY 4.0. Patel et al., "Splitwise: Efficient generative LLM ' +
    'inference using phase splitting", ISCA 2024.',
} as const;

/** The credit to carry when `path` is the Azure conversation trace or a cut of it (by file name). */
export function traceAttribution(path: string): string | undefined {
  const stem = AZURE_CONV_TRACE.fileName.replace(/\.csv$/, '');
  return basename(path).startsWith(stem) ? AZURE_CONV_TRACE.attribution : undefined;
}
