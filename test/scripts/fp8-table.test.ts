// scripts/fp8-table.mjs as it is run: the native harness's bench-fp8 output in, a result file and
// README's FP8 table out.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertWritesOnlyItsBlock, tableScript } from './table-script.js';

const run = tableScript('fp8-table.mjs');

// Two pages' tables as build/fmla_native_test bench-fp8 prints them, with the lines around them.
const HARNESS = [
  'device: Test GPU',
  'mla-anchor over FP8 caches (bf16 q, page 64); copy ceiling 4000 GB/s',
  '| b | s_q | s_k | h_q | causal | bf16 us | fp8_ds_mla us | x | fp8_e4m3 us | x | fp8_e4m3, e4m3 q us | x | ds GB/s | rel_l2 ds / e4m3 / e4m3 q |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  '| 128 | 1 | 8192 | 16 | no | 300.0 | 200.0 | 1.50 | 150.0 | 2.00 | 120.0 | 2.50 | 3500 | 2.7e-02 / 2.6e-02 / 2.5e-02 |',
  '| 128 | 2 | 8192 | 128 | yes | 800.0 | 1600.0 | 0.50 | 1000.0 | 0.80 | 900.0 | 0.89 | 400 | 2.7e-02 / 2.7e-02 / 2.7e-02 |',
  'PASS fp8 something',
  'mla-anchor over FP8 caches (bf16 q, page 3); copy ceiling 4001 GB/s',
  '| 128 | 1 | 8192 | 128 | no | 500.0 | 1250.0 | 0.40 | 1000.0 | 0.50 | 1000.0 | 0.50 | 700 | 2.7e-02 / 2.7e-02 / 2.7e-02 |',
  '',
  '140 checks, 0 failures',
].join('\n');

function resultFile(dir: string) {
  const raw = join(dir, 'fp8.txt');
  writeFileSync(raw, HARNESS);
  const r = run(
    '--from-harness',
    raw,
    '--gpu',
    'Test GPU, 7 SMs',
    '--date',
    '2099-01-02',
    '--commit',
    'abc1234',
  );
  assert.equal(r.code, 0, r.stderr);
  const file = join(dir, 'fp8.json');
  writeFileSync(file, r.stdout);
  return file;
}

test('fp8-table reads every row of the harness output with its page, kernel and figures', () => {
  const data = JSON.parse(
    readFileSync(resultFile(mkdtempSync(join(tmpdir(), 'fp8-table-'))), 'utf8'),
  );
  assert.equal(data.commit, 'abc1234');
  assert.equal(data.gpu, 'Test GPU, 7 SMs');
  assert.equal(data.rows.length, 3);
  const [a, b, c] = data.rows;
  assert.deepEqual(
    [
      a.page_size,
      a.b,
      a.s_q,
      a.s_k,
      a.h_q,
      a.causal,
      a.bf16_us,
      a.fp8_e4m3_e4m3_queries_speed_vs_bf16,
    ],
    [64, 128, 1, 8192, 16, false, 300, 2.5],
  );
  assert.deepEqual(a.rel_l2_vs_bf16_cache, {
    fp8_ds_mla: 0.027,
    fp8_e4m3: 0.026,
    fp8_e4m3_e4m3_queries: 0.025,
  });
  assert.equal(a.copy_ceiling_gbs, 4000);
  assert.match(a.kernel, /^keys x rows/);
  assert.equal(b.causal, true);
  assert.match(b.kernel, /64-row e4m3 kernel/);
  assert.equal(c.page_size, 3);
  assert.equal(c.copy_ceiling_gbs, 4001);
  assert.match(
    c.kernel,
    /converts each tile/,
    'pages that are not a power of two: the converting producer',
  );
});

test('fp8-table prints one row a page and shape, with the short kernel name', () => {
  const r = run(resultFile(mkdtempSync(join(tmpdir(), 'fp8-table-'))));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Test GPU, 7 SMs, 2099-01-02, commit abc1234 \(fp8\.json/);
  assert.match(
    r.stdout,
    /\| 64 \| 16 \| 1 \| 8192 \| keys x rows \| 300\.0 \| 200\.0 \| 1\.50x \| 150\.0 \| 2\.00x \| 120\.0 \| 2\.50x \|/,
  );
  assert.match(r.stdout, /\| 64 \| 128 \| 2 causal \| 8192 \| 64-row e4m3 \| 800\.0 \|/);
  assert.match(r.stdout, /\| 3 \| 128 \| 1 \| 8192 \| 64-row, converting producer \| 500\.0 \|/);
});

test('fp8-table refuses a harness row it cannot read, and --write replaces only its block', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fp8-table-'));
  const bad = join(dir, 'bad.txt');
  writeFileSync(bad, HARNESS.replace('| 300.0 |', '| oops |'));
  const r = run('--from-harness', bad, '--gpu', 'G', '--date', 'D', '--commit', 'C');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /column 6 is not a number/);
  assert.equal(run('--from-harness', bad).code, 2, 'no --gpu / --date / --commit: usage');

  assertWritesOnlyItsBlock(run, resultFile(dir), dir, 'fp8-table');
  assert.equal(run().code, 2, 'no file: usage');
});
