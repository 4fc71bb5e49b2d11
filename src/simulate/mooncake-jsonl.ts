/**
 * The Mooncake trace format: one JSON object a line, `timestamp` (ms from the start), `input_length`,
 * `output_length` (tokens) and `hash_ids` (one id per 512-token block of the prompt; equal ids at the
 * start of two prompts mean a shared prefix). The ids are kept for prefix-reuse studies.
 */
import { TraceBuilder } from './trace-builder.js';
import { tokenCount, TraceFormatError, type ReadTraceOptions, type Trace } from './trace.js';

/** Tokens per block of `hash_ids`. */
export const MOONCAKE_BLOCK_TOKENS = 512;

function hashIds(value: unknown, file: string, line: number): Int32Array | undefined {
  if (value === undefined) return undefined;
  if (
    Array.isArray(value) &&
    value.every((v) => Number.isSafeInteger(v) && v >= 0 && v < 2 ** 31)
  ) {
    return Int32Array.from(value as number[]);
  }
  throw new TraceFormatError(
    file,
    line,
    'hash_ids',
    'an array of integers >= 0',
    JSON.stringify(value),
  );
}

/** Parses the lines of a Mooncake JSONL trace; `file` names it in errors. Blank lines are ignored. */
export function parseMooncakeJsonl(
  lines: Iterable<string>,
  file: string,
  options: ReadTraceOptions = {},
): Trace {
  const builder = new TraceBuilder(file);
  let lineNo = 0;
  for (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line);
    } catch {
      throw new TraceFormatError(file, lineNo, 'line', 'a JSON object', JSON.stringify(line));
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      throw new TraceFormatError(file, lineNo, 'line', 'a JSON object', JSON.stringify(line));
    }
    const ms = row.timestamp;
    if (typeof ms !== 'number' || !(ms >= 0) || !Number.isFinite(ms)) {
      throw new TraceFormatError(
        file,
        lineNo,
        'timestamp',
        'milliseconds >= 0',
        JSON.stringify(ms),
      );
    }
    const count = (field: string): number => {
      const v = row[field];
      return tokenCount(typeof v === 'number' ? v : NaN, JSON.stringify(v) ?? 'nothing', {
        file,
        line: lineNo,
        field,
        strict: options.strict === true,
      });
    };
    builder.add(
      ms / 1000,
      count('input_length'),
      count('output_length'),
      hashIds(row.hash_ids, file, lineNo),
    );
  }
  return builder.build();
}
