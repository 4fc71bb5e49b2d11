/**
 * The Azure LLM inference trace format: a CSV header naming `TIMESTAMP,ContextTokens,GeneratedTokens`
 * (other columns are ignored, any order), then one request a line.
 */
import { TraceBuilder } from './trace-builder.js';
import { parseTimestamp } from './trace-timestamp.js';
import { tokenCount, TraceFormatError, type ReadTraceOptions, type Trace } from './trace.js';

const COLUMNS = ['TIMESTAMP', 'ContextTokens', 'GeneratedTokens'] as const;
const COUNT = /^\d+$/;

/** Parses the lines of an Azure CSV trace; `file` names it in errors. */
export function parseAzureCsv(
  lines: Iterable<string>,
  file: string,
  options: ReadTraceOptions = {},
): Trace {
  const builder = new TraceBuilder(file);
  let header: string[] | undefined;
  let index: number[] = [];
  let lineNo = 0;
  for (const line of lines) {
    lineNo++;
    if (header === undefined) {
      header = line.split(',');
      index = COLUMNS.map((name) => {
        const i = header!.indexOf(name);
        if (i < 0) {
          throw new TraceFormatError(file, 1, 'header', `a column ${name}`, JSON.stringify(line));
        }
        return i;
      });
      continue;
    }
    const fields = line.split(',');
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
    const time = parseTimestamp(ts);
    if (!Number.isFinite(time)) {
      throw new TraceFormatError(
        file,
        lineNo,
        COLUMNS[0],
        'a date and time (2023-11-16 18:15:46.68, 2024-05-10 00:00:00.0+00:00) or seconds',
        JSON.stringify(ts),
      );
    }
    const count = (text: string, field: string): number =>
      tokenCount(COUNT.test(text) ? Number(text) : NaN, JSON.stringify(text), {
        file,
        line: lineNo,
        field,
        strict: options.strict === true,
      });
    builder.add(time, count(context, COLUMNS[1]), count(gen, COLUMNS[2]));
  }
  if (header === undefined) throw new TraceFormatError(file, 1, 'header', 'a header line', '""');
  return builder.build();
}
