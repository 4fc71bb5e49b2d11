/**
 * The lines of a trace file. Files up to STREAM_ABOVE_BYTES are read in one string; larger ones a
 * chunk at a time, so that a trace of several GiB never has to fit in one string (V8 caps a string
 * near 512 MiB).
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

export const STREAM_ABOVE_BYTES = 512 * 2 ** 20;
const CHUNK_BYTES = 1 << 20;

/** The lines of `text`, without their `\n` or `\r\n`; no last empty line for a final newline. */
export function* textLines(text: string): Generator<string> {
  let start = 0;
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    const stop = end < 0 ? text.length : end;
    yield text.charCodeAt(stop - 1) === 13 ? text.slice(start, stop - 1) : text.slice(start, stop);
    start = stop + 1;
  }
  // An empty text is one empty line: the (missing) header.
  if (text.length === 0) yield '';
}

/** The lines of the file at `path`, read `chunkBytes` at a time. */
export function* streamLines(path: string, chunkBytes = CHUNK_BYTES): Generator<string> {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(chunkBytes);
    const decoder = new StringDecoder('utf8');
    let rest = '';
    let any = false;
    for (;;) {
      const read = readSync(fd, buffer, 0, chunkBytes, null);
      const text = rest + (read > 0 ? decoder.write(buffer.subarray(0, read)) : decoder.end());
      const last = text.lastIndexOf('\n');
      if (read === 0) {
        if (text.length > 0 || !any) yield* textLines(text);
        return;
      }
      if (last >= 0) {
        any = true;
        yield* textLines(text.slice(0, last + 1));
      }
      rest = text.slice(last + 1);
    }
  } finally {
    closeSync(fd);
  }
}

/** The lines of the file at `path`, streamed when it is larger than `streamAboveBytes`. */
export function fileLines(path: string, streamAboveBytes = STREAM_ABOVE_BYTES): Iterable<string> {
  if (statSync(path).size > streamAboveBytes) return streamLines(path);
  return textLines(readFileSync(path, 'utf8'));
}
