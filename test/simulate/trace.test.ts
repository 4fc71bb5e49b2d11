import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
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
    'GeneratedTokens,Extra,ContextTokens,TIMESTAMP\n5,x,10,7.5\n6,y,11,2.5\n7,z,12,7.5\n0,w,1,3',
    'b.csv',
  );
  assert.deepEqual([...trace.arrival], [0, 0.5, 5, 5]);
  assert.deepEqual([...trace.promptTokens], [11, 1, 10, 12]);
  assert.deepEqual([...trace.generatedTokens], [6, 0, 5, 7]);
});

test('a malformed line is reported with file, line number and field', () => {
  const cases: [string, number, string][] = [
    [`${HEADER}\n2023-11-16 18:15:46.68,374,44\n2023-11-16 18:15:47,3x4,44\n`, 3, 'ContextTokens'],
    [`${HEADER}\n2023-11-16 18:15:46.68,374,-1\n`, 2, 'GeneratedTokens'],
    [`${HEADER}\n2023-11-16 18:15:46.68,0,4\n`, 2, 'ContextTokens'],
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
