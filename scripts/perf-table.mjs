#!/usr/bin/env node
// Prints README's performance table from side-by-side files: FlashMLA and flash-mla-ts timed in one
// process, on one GPU, on the same data (the anchor's side_by_side.py writes them; they are kept in
// bench/results/). Every ratio in the table is taken within one file, never across files. Plain
// Node, no dependencies.
//
//   node scripts/perf-table.mjs FILE [FILE ...]                     print the Markdown
//   node scripts/perf-table.mjs FILE [FILE ...] --write README.md   replace the text between
//                                                                   <!-- perf-table:begin --> and
//                                                                   <!-- perf-table:end --> in it
// With several files (e.g. a bf16 and an fp16 run of the same GPU, their `dtype` says which), the
// first gives the times and rates, and each gives its own column of ours / FlashMLA speed.

import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { replaceBetweenMarkers } from './readme-markers.mjs';

class UsageError extends Error {}

const SHORT_DTYPES = { 'torch.bfloat16': 'bf16', 'torch.float16': 'fp16' };
const shortDtype = (d) => SHORT_DTYPES[d] ?? String(d).replace(/^torch\./, '');

// A side's figures, or null when it failed ("error") or was not measured ("-").
const figures = (side) => (side && typeof side.us === 'number' ? side : null);
const missing = (side) => (side && 'error' in side ? 'error' : '-');

const ratio = (v) => `${v.toFixed(2)}x`;
const pct = (v) => `${v.toFixed(0)}%`;

function readSideBySide(path) {
  let data;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read a side-by-side file (${err.message})`);
  }
  if (!Array.isArray(data.speed) || data.speed.length === 0)
    throw new Error(`${path}: no 'speed' rows (was the speed section run?)`);
  for (const key of ['dtype', 'gpu', 'date'])
    if (typeof data[key] !== 'string') throw new Error(`${path}: expected a string '${key}'`);
  return { ...data, path, name: basename(path), dtype: shortDtype(data.dtype) };
}

// The shape of a speed row, the same in every file of one suite.
const rowKey = (r) => JSON.stringify([r.b, r.s_q, r.s_k, r.h_q, r.varlen, r.causal]);

function sKCell(r) {
  if (Array.isArray(r.s_k)) return r.s_k.join('/');
  return r.varlen ? `varlen ~${r.s_k}` : String(r.s_k);
}

/** ours / FlashMLA speed of one row: FlashMLA's time over ours, above 1 when ours is faster. */
function speedRatio(row) {
  if (!row) return '-';
  const fm = figures(row.flashmla);
  const ours = figures(row.ours);
  if (!fm) return missing(row.flashmla);
  if (!ours) return missing(row.ours);
  return ratio(fm.us / ours.us);
}

function line(cells) {
  return `| ${cells.join(' | ')} |`;
}

function table(header, rows) {
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function speedTable(files) {
  const [first] = files;
  const byKey = files.map((f) => new Map(f.speed.map((r) => [rowKey(r), r])));
  const ratioHeads =
    files.length === 1
      ? ['ours / FlashMLA speed']
      : files.map((f) => `ours / FlashMLA speed (${f.dtype})`);
  const header = [
    'b',
    's_q',
    's_k',
    'h_q',
    'causal',
    'FlashMLA us',
    'ours us',
    ...ratioHeads,
    'ours TFLOP/s',
    'ours % of copy',
  ];
  const rows = first.speed.map((r) => {
    const fm = figures(r.flashmla);
    const ours = figures(r.ours);
    return [
      r.b,
      r.s_q,
      sKCell(r),
      r.h_q,
      r.causal ? 'yes' : 'no',
      fm ? fm.us.toFixed(1) : missing(r.flashmla),
      ours ? ours.us.toFixed(1) : missing(r.ours),
      ...byKey.map((m) => speedRatio(m.get(rowKey(r)))),
      ours ? ours.tflops.toFixed(0) : missing(r.ours),
      ours ? pct(ours.pct_copy) : missing(r.ours),
    ];
  });
  return table(header, rows);
}

function pageTable(sweep) {
  const base = new Map(sweep.filter((p) => p.page === 64).map((p) => [p.h_q, figures(p)]));
  const rows = sweep.map((p) => {
    const own = figures(p);
    const ref = base.get(p.h_q);
    return [
      p.h_q,
      p.page,
      own ? own.us.toFixed(1) : missing(p),
      own ? pct(own.pct_copy) : missing(p),
      own && ref ? ratio(own.us / ref.us) : own ? '-' : missing(p),
    ];
  });
  return table(['h_q', 'page', 'ours us', 'ours % of copy', 'time / page-64 time'], rows);
}

/** The Markdown block for README from parsed side-by-side files (the first gives the figures). */
function perfMarkdown(files) {
  const [first] = files;
  const gpus = new Set(files.map((f) => f.gpu));
  if (gpus.size > 1)
    throw new Error(
      `the files come from different GPUs (${[...gpus].join(', ')}): one GPU a table`,
    );
  const dtypes = files.map((f) => f.dtype);
  if (new Set(dtypes).size < dtypes.length)
    throw new Error(`two files of the same dtype (${dtypes.join(', ')}): one file per dtype`);
  const dates = [...new Set(files.map((f) => f.date))].join(', ');
  const ceilings = [
    typeof first.copy_gbps === 'number' ? `copy ceiling ${first.copy_gbps.toFixed(0)} GB/s` : '',
    typeof first.matmul_tflops === 'number'
      ? `${first.dtype} matrix product ${first.matmul_tflops.toFixed(0)} TFLOP/s`
      : '',
  ].filter(Boolean);
  const also =
    files.length > 1 ? ` (ours / FlashMLA speed also ${dtypes.slice(1).join(', ')})` : '';
  const parts = [
    `${first.gpu}${first.sms ? `, ${first.sms} SMs` : ''}, ${dates}, ${first.dtype}${also}` +
      (ceilings.length ? `; ${ceilings.join(', ')}, measured in the same run` : '') +
      '. FlashMLA and flash-mla-ts in one process on the same data, CUDA-graph replays after an ' +
      "L2 flush, median of 30; ours / FlashMLA speed is FlashMLA's time over ours (above 1x: ours is " +
      'faster). ' +
      `From ${files.map((f) => f.name).join(', ')} (\`node scripts/perf-table.mjs\`).`,
    '',
    speedTable(files),
  ];
  if (Array.isArray(first.page_sweep) && first.page_sweep.length > 0) {
    parts.push(
      '',
      // side_by_side.py sweeps pages on one shape: b = 128, s_q = 1, varlen lengths around 8192.
      `Page size (ours alone: FlashMLA takes page 64 only), b = 128, s_q = 1, s_k varlen ~8192, ` +
        `${first.dtype}:`,
      '',
      pageTable(first.page_sweep),
    );
  }
  return parts.join('\n');
}

function parseArgs(argv) {
  const files = [];
  let write;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--write') {
      write = argv[++i];
      if (!write) throw new UsageError('--write: expected a file (e.g. README.md)');
    } else if (a === '--help') {
      return { help: true };
    } else if (a.startsWith('--')) {
      throw new UsageError(`unknown flag ${a}`);
    } else files.push(a);
  }
  if (files.length === 0) throw new UsageError('expected at least one side-by-side JSON file');
  return { files, write };
}

const USAGE = 'Usage: node scripts/perf-table.mjs FILE [FILE ...] [--write README.md]\n';

function main(argv) {
  let args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`perf-table: ${err.message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const block = perfMarkdown(args.files.map(readSideBySide));
    if (!args.write) {
      process.stdout.write(`${block}\n`);
      return 0;
    }
    const text = readFileSync(args.write, 'utf8');
    writeFileSync(args.write, replaceBetweenMarkers(text, block, args.write, 'perf-table'));
    process.stdout.write(`perf-table: replaced the table in ${args.write}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`perf-table: ${err.message}\n`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
