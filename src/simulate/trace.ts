/**
 * Request traces: the Azure LLM inference CSV (`TIMESTAMP,ContextTokens,GeneratedTokens`) or the
 * Mooncake JSONL (`timestamp`, `input_length`, `output_length`, `hash_ids`). The whole file is checked
 * before anything is simulated; the first malformed line stops it with a TraceFormatError. Rows with
 * no prompt or no generated token are skipped and counted (an error with `strict`).
 */
import { basename, extname } from 'node:path';
import { describeValue } from '../describe-value.js';
import { ArgumentError, FlashMlaError } from '../errors.js';
import { parseAzureCsv } from './azure-csv.js';
import { parseMooncakeJsonl } from './mooncake-jsonl.js';
import { fileLines, textLines } from './trace-lines.js';

/** A trace as arrays indexed by request, sorted by arrival. */
export interface Trace {
  /** Where it came from (a path or a label), for messages and reports. */
  readonly source: string;
  /** Arrival time in seconds after the first request. */
  readonly arrival: Float64Array;
  readonly promptTokens: Int32Array;
  readonly generatedTokens: Int32Array;
  /** Rows of the file skipped because they had no prompt or no token to generate. Default 0. */
  readonly skippedRows?: number;
  /** Mooncake traces: each request's prompt block ids (equal leading ids = a shared prefix). */
  readonly hashIds?: readonly Int32Array[];
}

export type TraceFormat = 'csv' | 'mooncake';
export const TRACE_FORMATS: readonly TraceFormat[] = ['csv', 'mooncake'];

export interface ReadTraceOptions {
  /** A row with zero prompt or zero generated tokens is an error instead of a skipped row. */
  readonly strict?: boolean;
  /** Default: `mooncake` for a `.jsonl` file, else `csv`. */
  readonly format?: TraceFormat;
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

const MAX_TOKENS = 2 ** 31 - 1;

/** A token count of a row: an integer >= 0 (>= 1 when strict), else a TraceFormatError. */
export function tokenCount(
  value: number,
  text: string,
  at: { file: string; line: number; field: string; strict: boolean },
): number {
  const min = at.strict ? 1 : 0;
  if (!(Number.isSafeInteger(value) && value >= min && value <= MAX_TOKENS)) {
    throw new TraceFormatError(at.file, at.line, at.field, `an integer >= ${min}`, text);
  }
  return value;
}

/** The format of `path` by its extension: `.jsonl` is Mooncake, anything else CSV. */
export function traceFormatOf(path: string): TraceFormat {
  return extname(path).toLowerCase() === '.jsonl' ? 'mooncake' : 'csv';
}

function checkString(argument: string, value: unknown): void {
  if (typeof value !== 'string')
    throw new ArgumentError(argument, 'a string', describeValue(value));
}

function checkOptions(options: ReadTraceOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new ArgumentError('options', 'an object { format?, strict? }', describeValue(options));
  }
  if (options.format !== undefined && !TRACE_FORMATS.includes(options.format)) {
    throw new ArgumentError('format', "'csv' or 'mooncake'", JSON.stringify(options.format));
  }
}

function parseLines(
  lines: Iterable<string>,
  file: string,
  format: TraceFormat,
  options: ReadTraceOptions,
): Trace {
  return format === 'mooncake'
    ? parseMooncakeJsonl(lines, file, options)
    : parseAzureCsv(lines, file, options);
}

/** Parses the text of a trace file (CSV unless `options.format` says otherwise); `file` names it in errors. */
export function parseTrace(text: string, file: string, options: ReadTraceOptions = {}): Trace {
  checkString('text', text);
  checkString('file', file);
  checkOptions(options);
  return parseLines(textLines(text), file, options.format ?? 'csv', options);
}

/** Reads and parses a trace file; files over 512 MiB are read a chunk at a time. */
export function readTrace(path: string, options: ReadTraceOptions = {}): Trace {
  checkString('path', path);
  checkOptions(options);
  let lines: Iterable<string>;
  try {
    lines = fileLines(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === undefined) throw error;
    const reason = (error as Error).message;
    throw new ArgumentError('path', 'a readable trace file', `${describeValue(path)}: ${reason}`);
  }
  return parseLines(lines, path, options.format ?? traceFormatOf(path), options);
}

/** The first `count` requests of `trace`. */
export function sliceTrace(trace: Trace, count: number): Trace {
  return {
    ...trace,
    arrival: trace.arrival.slice(0, count),
    promptTokens: trace.promptTokens.slice(0, count),
    generatedTokens: trace.generatedTokens.slice(0, count),
    ...(trace.hashIds !== undefined ? { hashIds: trace.hashIds.slice(0, count) } : {}),
  };
}

/** A trace file the study knows: its name, and the credit any use or copy of it must carry. */
interface KnownTrace {
  readonly fileName: string;
  readonly attribution: string;
}

/** The study's default trace (its file name), and the credit any use or copy of it must carry. */
export const AZURE_CONV_TRACE: KnownTrace = {
  fileName: 'azure-llm-inference-2023-conv.csv',
  attribution:
    'Azure LLM inference trace 2023, conversation service (AzureLLMInferenceTrace_conv.csv), ' +
    'Azure Public Dataset, CC-BY 4.0. Patel et al., "Splitwise: Efficient generative LLM ' +
    'inference using phase splitting", ISCA 2024.',
};

/** The Mooncake conversation trace (Kimi), with real prefix reuse in its block ids. */
export const MOONCAKE_CONV_TRACE: KnownTrace = {
  fileName: 'mooncake-conversation.jsonl',
  attribution:
    'Mooncake conversation trace (kvcache-ai/Mooncake, FAST25-release/traces/' +
    'conversation_trace.jsonl), Apache-2.0. Qin et al., "Mooncake: A KVCache-centric ' +
    'Disaggregated Architecture for LLM Serving", FAST 2025.',
};

/** The credit to carry when `path` is a known trace or a cut of it (by file name). */
export function traceAttribution(path: string): string | undefined {
  const known = [AZURE_CONV_TRACE, MOONCAKE_CONV_TRACE].find((t) =>
    basename(path).startsWith(t.fileName.replace(/\.[a-z]+$/, '')),
  );
  return known?.attribution;
}
