// scripts/gqa-table.mjs as it is run: a gqa_vs_sdpa.py result file in, README's GQA table out.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertWritesOnlyItsBlock, tableScript } from './table-script.js';

const run = tableScript('gqa-table.mjs');

const RESULT = {
  device: 'Test GPU',
  num_sms: 7,
  torch: '9.9',
  copy_gbs: 1000,
  rows: [
    {
      group: 'core',
      d: 128,
      h_q: 32,
      h_kv: 8,
      s_q: 1,
      causal: false,
      b: 64,
      s_k: 1024,
      mean_len: 1024,
      page_size: 16,
      check: 'pass',
      rel_l2: 0.002,
      ours_us: 80,
      ours_gbs: 900,
      ours_pct_copy: 90,
      sdpa_us: 72,
      sdpa_gbs: 1000,
      sdpa_pct_copy: 100,
      ours_over_sdpa_speed: 0.9,
    },
    {
      group: 'varlen',
      d: 128,
      h_q: 32,
      h_kv: 8,
      s_q: 2,
      causal: true,
      b: 128,
      s_k: null,
      mean_len: 4101.6,
      page_size: 1,
      check: 'FAIL',
      rel_l2: 0.5,
      ours_us: 500,
      ours_gbs: 950,
      ours_pct_copy: 95,
    },
  ],
};

test('gqa-table prints one row a shape, SDPA beside ours where it was timed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gqa-table-'));
  const file = join(dir, 'gqa.json');
  writeFileSync(file, JSON.stringify(RESULT));
  const r = run(file);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Test GPU, 7 SMs, torch 9\.9; copy ceiling 1000 GB\/s/);
  assert.match(
    r.stdout,
    /\| core \| 128 \| 32\/8 \| 1 \| 64 \| 1024 \| 16 \| 80\.0 \| 90% \| 72\.0 \| 100% \| 0\.90x \| pass \|/,
  );
  assert.match(
    r.stdout,
    /\| varlen \| 128 \| 32\/8 \| 2 causal \| 128 \| varlen ~4102 \| 1 \| 500\.0 \| 95% \| - \| - \| - \| FAIL \|/,
  );
  assert.doesNotMatch(r.stdout, /e4m3/, 'no e4m3 columns without them in the file');
});

test('gqa-table adds the e4m3 columns of a --fp8 result file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gqa-table-'));
  const file = join(dir, 'gqa-fp8.json');
  const e4m3 = { e4m3_us: 50, e4m3_pct_copy: 72, e4m3_over_bf16_speed: 1.6, e4m3_check: 'pass' };
  writeFileSync(
    file,
    JSON.stringify({ ...RESULT, rows: RESULT.rows.map((r) => ({ ...r, ...e4m3 })) }),
  );
  const r = run(file);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\| e4m3 us \| % copy \| e4m3 \/ bf16 speed \| e4m3 check \|/);
  assert.match(r.stdout, /\| 0\.90x \| pass \| 50\.0 \| 72% \| 1\.60x \| pass \|/);
  assert.doesNotMatch(r.stdout, /e4m3 q/, 'no e4m3-query columns without them in the file');
});

test('gqa-table adds the e4m3-query columns where the file has them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gqa-table-'));
  const file = join(dir, 'gqa-fp8.json');
  const e4m3 = { e4m3_us: 50, e4m3_pct_copy: 72, e4m3_over_bf16_speed: 1.6, e4m3_check: 'pass' };
  const e4m3q = { e4m3q_us: 40, e4m3q_over_bf16_speed: 2, e4m3q_check: 'FAIL' };
  writeFileSync(
    file,
    JSON.stringify({ ...RESULT, rows: RESULT.rows.map((r) => ({ ...r, ...e4m3, ...e4m3q })) }),
  );
  const r = run(file);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\| e4m3 check \| e4m3 q us \| e4m3 q \/ bf16 speed \| e4m3 q check \|/);
  assert.match(r.stdout, /\| 1\.60x \| pass \| 40\.0 \| 2\.00x \| FAIL \|/);
  assert.match(r.stdout, /e4m3 q: the same with float8_e4m3fn queries/);
});

test('gqa-table --write replaces only the text between its markers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gqa-table-'));
  const file = join(dir, 'gqa.json');
  writeFileSync(file, JSON.stringify(RESULT));
  assertWritesOnlyItsBlock(run, file, dir, 'gqa-table');
  assert.equal(run().code, 2, 'no file: usage');
});
