#!/usr/bin/env node
// README's MLA-over-FP8 table, from the native harness's `bench-fp8` output by way of a result file.
// Plain Node.
//
//   node scripts/fp8-table.mjs --from-harness RAW --gpu G --date D --commit C > FILE.json
//                                                 the harness's tables as a result file
//   node scripts/fp8-table.mjs FILE                 print the Markdown
//   node scripts/fp8-table.mjs FILE --write README.md  replace the text between
//                                                     <!-- fp8-table:begin --> and <!-- fp8-table:end -->

import { readFileSync } from 'node:fs';
import { renderResultFile } from './readme-markers.mjs';

const SUITE =
  'mla-anchor rows over FP8 caches beside the bf16 cache, same data (native harness: ' +
  'build/fmla_native_test bench-fp8)';
const METHOD =
  'whole decode calls (fmla_mla_decode / fmla_mla_decode_fp8 + combine), schedule built before, caches ' +
  'rotated past the L2 (200 MB), CUDA events, median of 30 after 5 warm-ups; varlen lengths around s_k; ' +
  'the FP8 caches quantize the bf16 cache with fmla_write_kv_fp8 (fp8_e4m3 descale 1/64; e4m3 queries: ' +
  'the bf16 queries quantized with descale 1/32); rel_l2 against the float32 reference over the bf16 ' +
  'cache (the error quantization adds); FP8 correctness against the reference over the dequantized ' +
  'cache is in the native check (every output written). Up to 32 query rows a KV head take the keys x ' +
  'rows kernel, more the 64-row kernels.';
const KEYS_X_ROWS =
  'keys x rows (mla_decode_fp8_sm90; S^T on the FP8 tensor cores, bf16 queries split into two e4m3 ' +
  'terms; O^T = V^T P^T on the FP8 tensor cores over fp8_e4m3, and over fp8_ds_mla at 16 rows on tiles ' +
  'copied a row at a time (P^T a version a group); otherwise fp8_ds_mla V converted to bf16 in registers)';
const E4M3_64_ROWS =
  'fp8_e4m3: the 64-row e4m3 kernel (mla_decode_e4m3_sm90; bf16 queries split into two e4m3 terms a ' +
  'row and e4m3 queries: S = Q K^T on the FP8 tensor cores, O^T = V^T P with the codes converted in ' +
  'registers); fp8_ds_mla: the same kernel, the scores summed group by group with the scales between ' +
  'them, values bf16 times their scales';
const DEQUANTIZING =
  'the 64-row 16-bit kernel (mla_decode_sm90) with a producer that converts each tile in shared memory';

/** Query rows a KV head (one latent head): at most 32 take the keys x rows kernel. */
const rowsPerKv = (r) => r.s_q * r.h_q;
const pow2 = (n) => n > 0 && (n & (n - 1)) === 0;

/** Which kernel ran a row, in the words of the result file and in the table's short form. */
function kernelOf(r) {
  if (rowsPerKv(r) <= 32) return { long: KEYS_X_ROWS, short: 'keys x rows' };
  if (pow2(r.page_size)) return { long: E4M3_64_ROWS, short: '64-row e4m3' };
  return { long: DEQUANTIZING, short: '64-row, converting producer' };
}

/**
 * The harness's `bench-fp8` tables (one a page size, each under a line "mla-anchor over FP8 caches
 * (bf16 q, page N); copy ceiling C GB/s") as a result file. Throws on a row it cannot read.
 */
export function parseHarness(text, { gpu, date, commit }) {
  const rows = [];
  let page = null;
  let copy = null;
  for (const line of text.split('\n')) {
    const head =
      /^mla-anchor over FP8 caches \(bf16 q, page (\d+)\); copy ceiling (\d+) GB\/s/.exec(line);
    if (head) {
      page = Number(head[1]);
      copy = Number(head[2]);
      continue;
    }
    if (!/^\| \d/.test(line)) continue;
    if (page === null) throw new Error(`a row before any page's heading: ${line}`);
    const f = line
      .split('|')
      .slice(1, -1)
      .map((x) => x.trim());
    if (f.length !== 14) throw new Error(`expected 14 columns, got ${f.length}: ${line}`);
    const num = (k) => {
      const v = Number(f[k]);
      if (!Number.isFinite(v)) throw new Error(`column ${k + 1} is not a number: ${line}`);
      return v;
    };
    const rel = f[13].split('/').map((x) => Number(x.trim()));
    if (rel.length !== 3 || rel.some((v) => !Number.isFinite(v)))
      throw new Error(`expected three rel_l2 figures: ${line}`);
    const r = {
      page_size: page,
      b: num(0),
      s_q: num(1),
      s_k: num(2),
      h_q: num(3),
      varlen: true,
      causal: f[4] === 'yes',
      bf16_us: num(5),
      fp8_ds_mla_us: num(6),
      fp8_ds_mla_speed_vs_bf16: num(7),
      fp8_e4m3_us: num(8),
      fp8_e4m3_speed_vs_bf16: num(9),
      fp8_e4m3_e4m3_queries_us: num(10),
      fp8_e4m3_e4m3_queries_speed_vs_bf16: num(11),
      fp8_ds_mla_gbs: num(12),
      rel_l2_vs_bf16_cache: { fp8_ds_mla: rel[0], fp8_e4m3: rel[1], fp8_e4m3_e4m3_queries: rel[2] },
      copy_ceiling_gbs: copy,
    };
    r.kernel = kernelOf(r).long;
    rows.push(r);
  }
  if (rows.length === 0) throw new Error('no bench-fp8 rows found');
  return { suite: SUITE, gpu, date, commit, method: METHOD, rows };
}

/** The Markdown of one result file: where it comes from, then one row a page size and shape. */
export function fp8Table(data, name) {
  if (!Array.isArray(data.rows) || data.rows.length === 0) throw new Error(`${name}: no rows`);
  const lines = [
    `${data.gpu}, ${data.date}, commit ${data.commit} (${name}, \`node scripts/fp8-table.mjs\`); ` +
      "speed: the bf16 decode's time over the FP8 one, on the same page size.",
    '',
    '| page | h_q | s_q | s_k | kernel | bf16 us | fp8_ds_mla us | speed | fp8_e4m3 us | speed | ' +
      'fp8_e4m3, e4m3 q us | speed |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of data.rows) {
    const x = (speed) => `${speed.toFixed(2)}x`;
    lines.push(
      `| ${r.page_size} | ${r.h_q} | ${r.s_q}${r.causal ? ' causal' : ''} | ${r.s_k} | ` +
        `${kernelOf(r).short} | ${r.bf16_us.toFixed(1)} | ${r.fp8_ds_mla_us.toFixed(1)} | ` +
        `${x(r.fp8_ds_mla_speed_vs_bf16)} | ${r.fp8_e4m3_us.toFixed(1)} | ${x(r.fp8_e4m3_speed_vs_bf16)} | ` +
        `${r.fp8_e4m3_e4m3_queries_us.toFixed(1)} | ${x(r.fp8_e4m3_e4m3_queries_speed_vs_bf16)} |`,
    );
  }
  return lines.join('\n');
}

function option(argv, name) {
  const k = argv.indexOf(name);
  return k >= 0 ? argv[k + 1] : undefined;
}

function main(argv) {
  const raw = option(argv, '--from-harness');
  if (raw !== undefined) {
    const meta = {
      gpu: option(argv, '--gpu'),
      date: option(argv, '--date'),
      commit: option(argv, '--commit'),
    };
    if (!meta.gpu || !meta.date || !meta.commit) {
      process.stderr.write(
        'usage: node scripts/fp8-table.mjs --from-harness RAW --gpu G --date D --commit C\n',
      );
      return 2;
    }
    process.stdout.write(
      `${JSON.stringify(parseHarness(readFileSync(raw, 'utf8'), meta), null, 1)}\n`,
    );
    return 0;
  }
  return renderResultFile(argv, 'fp8-table.mjs', 'fp8-table', fp8Table);
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main(process.argv.slice(2));
