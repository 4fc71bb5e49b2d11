// scripts/perf-table.mjs as it is run: side-by-side files in, README's performance table out.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { root, tableScript } from './table-script.js';

const BF16 = join(root, 'test', 'fixtures', 'side-by-side-bf16.json');
const FP16 = join(root, 'test', 'fixtures', 'side-by-side-fp16.json');
const BEGIN = '<!-- perf-table:begin -->';
const END = '<!-- perf-table:end -->';

const perfTable = tableScript('perf-table.mjs');

/** The cells of the table line that starts with `prefix` (e.g. '| 128 | 1 | varlen ~4096 |'). */
function cells(markdown: string, prefix: string): string[] {
  const line = markdown.split('\n').find((l) => l.startsWith(prefix));
  assert.ok(line, `no line starting with ${prefix}`);
  return line
    .slice(1, -1)
    .split('|')
    .map((c) => c.trim());
}

test('one file: FlashMLA time over ours, our rates, and the page sweep against page 64', () => {
  const r = perfTable(BF16);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^NVIDIA H200, 132 SMs, 2026-11-29, bf16; copy ceiling 4180 GB\/s/);
  assert.match(r.stdout, /side-by-side-bf16\.json/);
  assert.ok(
    r.stdout.includes(
      '\n| b | s_q | s_k | h_q | causal | FlashMLA us | ours us | ours / FlashMLA speed | ' +
        'ours TFLOP/s | ours % of copy |\n',
    ),
  );
  // 253.5 / 342.4 = 0.7404
  assert.deepEqual(cells(r.stdout, '| 128 | 1 | varlen ~4096 |'), [
    '128',
    '1',
    'varlen ~4096',
    '128',
    'no',
    '253.5',
    '342.4',
    '0.74x',
    '429',
    '45%',
  ]);
  // 50.4 / 29.7 = 1.697; explicit lengths listed; a failed side says so in every cell it feeds.
  assert.equal(cells(r.stdout, '| 1 | 1 | 32768 | 16 |')[7], '1.70x');
  assert.deepEqual(cells(r.stdout, '| 4 | 4 | 4641/45118/1730/1696 |').slice(4, 8), [
    'yes',
    '55.2',
    '43.7',
    '1.26x',
  ]);
  assert.deepEqual(cells(r.stdout, '| 16 | 1 | 32768 | 128 |').slice(5), [
    '230.4',
    'error',
    'error',
    'error',
    'error',
  ]);
  // 504.6 / 403.7 = 1.250; a failed page size says error.
  const pages = r.stdout.slice(r.stdout.indexOf('Page size'));
  assert.deepEqual(cells(pages, '| h_q |'), [
    'h_q',
    'page',
    'ours us',
    'ours % of copy',
    'time / page-64 time',
  ]);
  assert.deepEqual(cells(pages, '| 16 | 1 |'), ['16', '1', '504.6', '58%', '1.25x']);
  assert.deepEqual(cells(pages, '| 128 | 64 |'), ['128', '64', '601.9', '48%', '1.00x']);
  assert.deepEqual(cells(pages, '| 128 | 1 |').slice(2), ['error', 'error', 'error']);
});

test('two files: a speed column per dtype, each ratio taken within its own file', () => {
  const r = perfTable(BF16, FP16);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /bf16 \(ours \/ FlashMLA speed also fp16\)/);
  const header = cells(r.stdout, '| b |');
  assert.deepEqual(header.slice(7, 9), [
    'ours / FlashMLA speed (bf16)',
    'ours / FlashMLA speed (fp16)',
  ]);
  // fp16: 250 / 320 = 0.78 and 48 / 30 = 1.60; rows the fp16 file lacks show '-'.
  const first = cells(r.stdout, '| 128 | 1 | varlen ~4096 |');
  assert.deepEqual(first.slice(5, 9), ['253.5', '342.4', '0.74x', '0.78x']);
  assert.deepEqual(cells(r.stdout, '| 1 | 1 | 32768 | 16 |').slice(7, 9), ['1.70x', '1.60x']);
  assert.deepEqual(cells(r.stdout, '| 4 | 4 |').slice(7, 9), ['1.26x', '-']);
});

test('files of one dtype twice, or of two GPUs, are refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flash-mla-perf-table-'));
  const other = join(dir, 'other-gpu.json');
  writeFileSync(
    other,
    JSON.stringify({ ...JSON.parse(readFileSync(FP16, 'utf8')), gpu: 'NVIDIA H100' }),
  );
  const twoGpus = perfTable(BF16, other);
  assert.equal(twoGpus.code, 1);
  assert.match(twoGpus.stderr, /different GPUs \(NVIDIA H200, NVIDIA H100\)/);
  const sameDtype = perfTable(BF16, BF16);
  assert.equal(sameDtype.code, 1);
  assert.match(sameDtype.stderr, /two files of the same dtype/);
});

test('--write replaces only the text between the markers, and again the same way', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flash-mla-perf-table-'));
  const readme = join(dir, 'README.md');
  const before = '# Title\n\n## Performance\n\nIntro.\n\n';
  const after = '\n\nGQA decode: later text.\n';
  writeFileSync(readme, `${before}${BEGIN}\n| old | table |\n${END}${after}`);
  const r = perfTable(BF16, '--write', readme);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /replaced the table in .*README\.md/);
  const printed = perfTable(BF16).stdout;
  const written = readFileSync(readme, 'utf8');
  assert.equal(written, `${before}${BEGIN}\n${printed}${END}${after}`);
  assert.doesNotMatch(written, /old \| table/);
  assert.equal(perfTable(BF16, '--write', readme).code, 0);
  assert.equal(readFileSync(readme, 'utf8'), written);
});

test('--write without the markers fails, names them, and leaves the file alone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flash-mla-perf-table-'));
  const readme = join(dir, 'README.md');
  for (const text of ['# Title\n\nno markers\n', `# Title\n${BEGIN}\nonly the first\n`]) {
    writeFileSync(readme, text);
    const r = perfTable(BF16, '--write', readme);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(BEGIN) && r.stderr.includes(END), r.stderr);
    assert.equal(readFileSync(readme, 'utf8'), text);
  }
});

test('the package README carries the markers', () => {
  const text = readFileSync(join(root, 'README.md'), 'utf8');
  const begin = text.indexOf(BEGIN);
  assert.ok(begin >= 0 && text.indexOf(END) > begin);
});

test('no file, or an unknown flag, is a usage error', () => {
  assert.equal(perfTable().code, 2);
  const r = perfTable(BF16, '--frobnicate');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown flag --frobnicate/);
});
