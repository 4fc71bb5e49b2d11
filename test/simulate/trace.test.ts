import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAzureCsv } from '../../src/simulate/azure-csv.js';
import { fileLines, streamLines } from '../../src/simulate/trace-lines.js';
import { parseTrace, readTrace, sliceTrace, TraceFormatError } from '../../src/simulate/trace.js';

const HEADER = 'TIMESTAMP,ContextTokens,GeneratedTokens';

test('parseTrace reads Azure timestamps as seconds after the first request', () => {
  const trace = parseTrace(
    `${HEADER}\r\n2023-11-16 18:15:46.6805900,374,44\r\n2023-11-16 18:15:50.9951690,396,109\r\n` +
      '2023-11-16 18:16:01.0000000,879,1\r\n',
    'a.csv',
  );
  assert.equal(trace.source, 'a.csv');
  assert.deepEqual([...trace.promptTokens], [374, 396, 879]);
  assert.deepEqual([...trace.generatedTokens], [44, 109, 1]);
  assert.equal(trace.arrival[0], 0);
  assert.ok(Math.abs(trace.arrival[1] - 4.314579) < 1e-5, `${trace.arrival[1]}`);
  assert.ok(Math.abs(trace.arrival[2] - 14.31941) < 1e-5, `${trace.arrival[2]}`);
});

test('parseTrace takes columns by name, plain seconds, and sorts by arrival (stably)', () => {
  const trace = parseTrace(
    'GeneratedTokens,Extra,ContextTokens,TIMESTAMP\n5,x,10,7.5\n6,y,11,2.5\n7,z,12,7.5\n1,w,1,3',
    'b.csv',
  );
  assert.deepEqual([...trace.arrival], [0, 0.5, 5, 5]);
  assert.deepEqual([...trace.promptTokens], [11, 1, 10, 12]);
  assert.deepEqual([...trace.generatedTokens], [6, 1, 5, 7]);
  assert.equal(trace.skippedRows, 0);
});

test('a malformed line is reported with file, line number and field', () => {
  const cases: [string, number, string][] = [
    [`${HEADER}\n2023-11-16 18:15:46.68,374,44\n2023-11-16 18:15:47,3x4,44\n`, 3, 'ContextTokens'],
    [`${HEADER}\n2023-11-16 18:15:46.68,374,-1\n`, 2, 'GeneratedTokens'],
    [`${HEADER}\n2023-11-16 18:15:46.68,1.5,4\n`, 2, 'ContextTokens'],
    [`${HEADER}\n2023-13-16 18:15:46.68,10,4\n`, 2, 'TIMESTAMP'],
    [`${HEADER}\nyesterday,10,4\n`, 2, 'TIMESTAMP'],
    [`${HEADER}\n1,10,4\n2,10\n`, 3, 'line'],
    [`${HEADER}\n1,10,4\n\n2,10,4\n`, 3, 'line'],
    ['TIMESTAMP,Context,GeneratedTokens\n1,2,3\n', 1, 'header'],
    ['', 1, 'header'],
  ];
  for (const [text, line, field] of cases) {
    assert.throws(
      () => parseTrace(text, 'bad.csv'),
      (e: unknown) =>
        e instanceof TraceFormatError &&
        e.file === 'bad.csv' &&
        e.line === line &&
        e.field === field &&
        e.message.startsWith(`bad.csv:${line}: ${field}: expected `),
      JSON.stringify(text),
    );
  }
});

test('readTrace reads the sample file; sliceTrace keeps the first requests', () => {
  const path = fileURLToPath(
    new URL(
      '../../../test/simulate/fixtures/azure-llm-inference-2023-conv-first200.csv',
      import.meta.url,
    ),
  );
  const trace = readTrace(path);
  assert.equal(trace.arrival.length, 200);
  assert.deepEqual([...trace.promptTokens.slice(0, 4)], [374, 396, 879, 91]);
  assert.deepEqual([...trace.generatedTokens.slice(0, 4)], [44, 109, 55, 16]);
  for (let i = 1; i < 200; i++) assert.ok(trace.arrival[i] >= trace.arrival[i - 1]);
  const head = sliceTrace(trace, 3);
  assert.deepEqual([...head.promptTokens], [374, 396, 879]);
  assert.equal(head.arrival.length, 3);
});

test('rows with zero prompt or zero generated tokens are skipped and counted, or an error if strict', () => {
  const text = `${HEADER}\n1,10,4\n2,0,4\n3,10,0\n4,0,0\n5,20,2\n`;
  const trace = parseTrace(text, 'zeros.csv');
  assert.deepEqual([...trace.promptTokens], [10, 20]);
  assert.deepEqual([...trace.arrival], [0, 4]);
  assert.equal(trace.skippedRows, 3);
  assert.throws(
    () => parseTrace(text, 'zeros.csv', { strict: true }),
    (e: unknown) =>
      e instanceof TraceFormatError &&
      e.line === 3 &&
      e.field === 'ContextTokens' &&
      e.message === 'zeros.csv:3: ContextTokens: expected an integer >= 1, got "0"',
  );
});

test('timestamps with a zone offset (the Azure 2024 traces) become seconds after the first', () => {
  const trace = parseTrace(
    `${HEADER}\n2024-05-10 00:00:00.0+00:00,5,1\n2024-05-10 00:00:01.5+00:00,6,1\n` +
      '2024-05-10 02:00:03.0+02:00,7,1\n2024-05-09 19:00:04.25-05:00,8,1\n2024-05-10T00:00:05Z,9,1\n',
    'azure-2024.csv',
  );
  assert.deepEqual([...trace.arrival], [0, 1.5, 3, 4.25, 5]);
  assert.deepEqual([...trace.promptTokens], [5, 6, 7, 8, 9]);
  assert.throws(() => parseTrace(`${HEADER}\n2024-05-10 00:00:00+0x:00,5,1\n`, 'z.csv'), {
    name: 'TraceFormatError',
  });
});

test('a file read a chunk at a time gives the same trace as one read whole', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flash-mla-trace-'));
  const path = join(dir, 'long.csv');
  const rows = Array.from({ length: 3000 }, (_, i) => `${i * 0.25},${(i % 97) + (i % 5)},${i % 7}`);
  writeFileSync(path, `${HEADER}\r\n${rows.join('\r\n')}\r\n`);
  const whole = readTrace(path);
  for (const chunk of [7, 64, 4096]) {
    const streamed = parseAzureCsv(streamLines(path, chunk), path);
    assert.deepEqual(streamed, whole, `chunks of ${chunk} bytes`);
  }
  assert.equal(whole.arrival.length + (whole.skippedRows ?? 0), 3000);
  assert.ok(whole.skippedRows! > 0);
  // A threshold below the file's size streams it.
  assert.deepEqual(parseAzureCsv(fileLines(path, 1000), path), whole);
  assert.deepEqual([...streamLines(join(dir, 'long.csv'), 5)].length, 3001);
});

test('Mooncake JSONL: ms timestamps, token lengths and hash ids, by extension or format', () => {
  const lines = [
    '{"timestamp": 0, "input_length": 1024, "output_length": 5, "hash_ids": [0, 1]}',
    '{"timestamp": 2500, "input_length": 600, "output_length": 0, "hash_ids": [0, 2]}',
    '{"timestamp": 1500, "input_length": 700, "output_length": 3, "hash_ids": [0, 3]}',
    '',
  ].join('\n');
  const dir = mkdtempSync(join(tmpdir(), 'flash-mla-trace-'));
  const path = join(dir, 'requests.jsonl');
  writeFileSync(path, lines);
  for (const trace of [readTrace(path), parseTrace(lines, 'x', { format: 'mooncake' })]) {
    assert.deepEqual([...trace.arrival], [0, 1.5]);
    assert.deepEqual([...trace.promptTokens], [1024, 700]);
    assert.deepEqual([...trace.generatedTokens], [5, 3]);
    assert.deepEqual(
      trace.hashIds?.map((ids) => [...ids]),
      [
        [0, 1],
        [0, 3],
      ],
    );
    assert.equal(trace.skippedRows, 1);
  }
  assert.throws(
    () =>
      parseTrace('{"timestamp": 1, "input_length": "9", "output_length": 1}', 'm', {
        format: 'mooncake',
      }),
    { message: 'm:1: input_length: expected an integer >= 0, got "9"' },
  );
  assert.throws(() => parseTrace('{"timestamp": 1,', 'm', { format: 'mooncake' }), {
    message: /^m:1: line: expected a JSON object/,
  });
  assert.throws(() => parseTrace(lines, 'x', { format: 'tsv' as 'csv' }), {
    name: 'ArgumentError',
    message: `format: expected 'csv' or 'mooncake', got "tsv"`,
  });
});
