#!/usr/bin/env node
// Prints README's GQA table from a bench/gqa_vs_sdpa.py result file: this library over a paged cache
// beside torch SDPA over a contiguous one, timed in one process on the same data. Plain Node.
//
//   node scripts/gqa-table.mjs FILE                    print the Markdown
//   node scripts/gqa-table.mjs FILE --write README.md  replace the text between
//                                                      <!-- gqa-table:begin --> and <!-- gqa-table:end -->

import { renderResultFile } from './readme-markers.mjs';

/**
 * The Markdown of one result file: a line saying where it comes from, then one row a shape. A file
 * of `gqa_vs_sdpa.py --fp8` adds the fp8_e4m3 columns: the same row over e4m3 copies of the caches,
 * and (where the file has them) with float8_e4m3fn queries too.
 */
export function gqaTable(data, name) {
  if (!Array.isArray(data.rows) || data.rows.length === 0) throw new Error(`${name}: no rows`);
  const fp8 = data.rows.every((r) => typeof r.e4m3_us === 'number');
  const e4m3q = fp8 && data.rows.every((r) => typeof r.e4m3q_us === 'number');
  const lines = [
    `${data.device}, ${data.num_sms} SMs, torch ${data.torch}; copy ceiling ${data.copy_gbs.toFixed(0)} GB/s ` +
      `measured in the same run. Whole decode calls (schedule built before), CUDA-graph replays after an ` +
      `L2 flush, median of 30; SDPA over a contiguous cache of the same sequences (equal lengths only; ` +
      `timed without the causal mask, same bytes); ours / SDPA speed is SDPA's time over ours.` +
      (fp8
        ? ' e4m3: the same row over fp8_e4m3 caches (one scale a tensor), % copy over its bytes, ' +
          'e4m3 / bf16 speed our bf16 time over it, checked against the reference over the dequantized caches.' +
          (e4m3q
            ? ' e4m3 q: the same with float8_e4m3fn queries (descaleQ), checked the same way.'
            : '')
        : '') +
      ` From ${name} (\`node scripts/gqa-table.mjs\`).`,
    '',
    '| group | d | h_q/h_kv | s_q | b | s_k | page | ours us | % copy | SDPA us | % copy | ours / SDPA speed | check |' +
      (fp8 ? ' e4m3 us | % copy | e4m3 / bf16 speed | e4m3 check |' : '') +
      (e4m3q ? ' e4m3 q us | e4m3 q / bf16 speed | e4m3 q check |' : ''),
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|' +
      (fp8 ? '---|---|---|---|' : '') +
      (e4m3q ? '---|---|---|' : ''),
  ];
  for (const r of data.rows) {
    const sdpa =
      typeof r.sdpa_us === 'number'
        ? `${r.sdpa_us.toFixed(1)} | ${r.sdpa_pct_copy.toFixed(0)}% | ${r.ours_over_sdpa_speed.toFixed(2)}x`
        : '- | - | -';
    const e4m3 =
      (fp8
        ? ` ${r.e4m3_us.toFixed(1)} | ${r.e4m3_pct_copy.toFixed(0)}% | ${r.e4m3_over_bf16_speed.toFixed(2)}x | ${r.e4m3_check} |`
        : '') +
      (e4m3q
        ? ` ${r.e4m3q_us.toFixed(1)} | ${r.e4m3q_over_bf16_speed.toFixed(2)}x | ${r.e4m3q_check} |`
        : '');
    lines.push(
      `| ${r.group} | ${r.d} | ${r.h_q}/${r.h_kv} | ${r.s_q}${r.causal ? ' causal' : ''} | ${r.b} | ` +
        `${r.s_k ?? `varlen ~${Math.round(r.mean_len)}`} | ${r.page_size} | ${r.ours_us.toFixed(1)} | ` +
        `${r.ours_pct_copy.toFixed(0)}% | ${sdpa} | ${r.check} |${e4m3}`,
    );
  }
  return lines.join('\n');
}

function main(argv) {
  return renderResultFile(argv, 'gqa-table.mjs', 'gqa-table', gqaTable);
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main(process.argv.slice(2));
