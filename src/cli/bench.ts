/**
 * `flash-mla bench mla | gqa | writekv`: the GPU benchmark suites of TARGETS.md. Each row is checked
 * against the reference before it is timed; the copy ceiling is measured in the same run, and every
 * figure is reported against it and nothing else; results go to a markdown table on stdout and JSON
 * under bench/results/. The comparison with FlashMLA is not made here: it comes from the side-by-side
 * runs (both libraries in one process, on the same data), whose files are in bench/results/ too.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import '../backend/cuda/register.js';
import { probeCuda } from '../backend/cuda/probe.js';
import { CudaStream, cudaDeviceInfo } from '../backend/cuda/runtime.js';
import { benchDecode, type DecodeBenchResult } from '../bench/decode-bench.js';
import { measureCopyCeilingGBps } from '../bench/device-timing.js';
import { GQA_SUITE, MLA_ANCHOR, MLA_DIMS, gqaRates, mlaRates } from '../bench/suites.js';
import { benchWriteKv } from '../bench/write-kv-bench.js';
import { measureHostOverhead } from '../bench/host-overhead.js';
import { BackendUnavailableError } from '../errors.js';
import { packageRoot, packageVersion } from '../package-root.js';
import { formatHelp, parseFlags, UsageError, wantsHelp, type FlagSpec } from './args.js';

const FLAGS: Record<string, FlagSpec> = {
  rows: {
    kind: 'int-list',
    min: 0,
    help: 'run only these rows of the suite (0-based, comma-separated)',
  },
  out: {
    kind: 'string',
    help: 'folder for the JSON results (default bench/results in the package)',
  },
  commit: { kind: 'string', help: 'commit to record (default: git rev-parse HEAD, if available)' },
};

const SUITES = ['mla', 'gqa', 'writekv', 'overhead'] as const;
type Suite = (typeof SUITES)[number];

function currentCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: packageRoot(),
      encoding: 'utf8',
    }).trim();
  } catch {
    return 'unknown';
  }
}

const fmt = (v: number, digits = 1): string => v.toFixed(digits);

/** What the figures are measured against, said in every report. */
const COMPARISON =
  'flash-mla-ts alone, against the copy ceiling measured in this run (copyCeilingGBps). The ' +
  'comparison with FlashMLA comes from the side-by-side files in bench/results/ ' +
  '(side-by-side-*.json: both libraries in one process on the same data; ' +
  '`node scripts/perf-table.mjs` tabulates them), not from this command.';

const progress = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

interface Row {
  readonly cells: Record<string, string | number | boolean>;
  readonly json: Record<string, unknown>;
}

function decodeRow(
  result: DecodeBenchResult,
  copyGBps: number,
  rates: { tflops: number; gbps: number },
): Record<string, unknown> {
  return {
    us: result.timing.medianUs,
    minUs: result.timing.minUs,
    maxUs: result.timing.maxUs,
    tflops: rates.tflops,
    gbps: rates.gbps,
    copyFraction: rates.gbps / copyGBps,
    seqlens: result.seqlens,
    rotatedCopies: result.rotatedCopies,
    correctness: result.correctness,
  };
}

function runMla(indices: number[], stream: CudaStream, copyGBps: number): Row[] {
  return indices.map((i) => {
    const r = MLA_ANCHOR[i];
    progress(`[${i + 1}/${MLA_ANCHOR.length}] mla b=${r.b} s_q=${r.sQ} s_k=${r.sK} h_q=${r.hQ}`);
    const result = benchDecode(
      'mla',
      {
        ...r,
        hKv: MLA_DIMS.hKv,
        dQk: MLA_DIMS.dQk,
        dV: MLA_DIMS.dV,
        pageSize: MLA_DIMS.pageSize,
        separateV: false,
        dtype: 'bfloat16',
        seed: i + 1,
      },
      stream,
    );
    const rates = mlaRates(r, result.seqlens.mean, result.timing.medianUs * 1e-6);
    return {
      cells: {
        b: r.b,
        s_q: r.sQ,
        s_k: r.lengths ? r.lengths.join('/') : r.sK,
        h_q: r.hQ,
        varlen: r.varlen ? 'yes' : 'no',
        causal: r.causal ? 'yes' : 'no',
        us: fmt(result.timing.medianUs),
        'TFLOP/s': fmt(rates.tflops),
        'GB/s': fmt(rates.gbps, 0),
        'of copy': `${fmt((100 * rates.gbps) / copyGBps)}%`,
        'rel err': result.correctness.outRelativeError.toExponential(1),
        check: result.correctness.pass ? 'ok' : 'FAIL',
        target: r.target,
      },
      json: { row: i, ...r, ...decodeRow(result, copyGBps, rates) },
    };
  });
}

function runGqa(indices: number[], stream: CudaStream, copyGBps: number): Row[] {
  return indices.map((i) => {
    const r = GQA_SUITE[i];
    const shape =
      `d=${r.d} h=${r.hQ}/${r.hKv} s_q=${r.sQ}${r.causal ? ' causal' : ''} ` +
      `b=${r.b} s_k=${r.varlen ? '~' : ''}${r.sK} page=${r.pageSize}`;
    progress(`[${i + 1}/${GQA_SUITE.length}] gqa ${r.group}: ${shape}`);
    const result = benchDecode(
      'gqa',
      {
        b: r.b,
        sQ: r.sQ,
        sK: r.sK,
        hQ: r.hQ,
        hKv: r.hKv,
        dQk: r.d,
        dV: r.d,
        pageSize: r.pageSize,
        separateV: true,
        varlen: r.varlen,
        causal: r.causal,
        dtype: 'bfloat16',
        seed: 100 + i,
      },
      stream,
    );
    const rates = gqaRates(r, result.seqlens.mean, result.timing.medianUs * 1e-6);
    return {
      cells: {
        group: r.group,
        b: r.b,
        s_k: r.varlen ? `varlen ~${r.sK}` : r.sK,
        d: r.d,
        'h_q/h_kv': `${r.hQ}/${r.hKv}`,
        s_q: r.causal ? `${r.sQ} causal` : r.sQ,
        page: r.pageSize,
        us: fmt(result.timing.medianUs),
        'GB/s': fmt(rates.gbps, 0),
        'of copy': `${fmt((100 * rates.gbps) / copyGBps)}%`,
        'TFLOP/s': fmt(rates.tflops),
        'rel err': result.correctness.outRelativeError.toExponential(1),
        check: result.correctness.pass ? 'ok' : 'FAIL',
        target: r.target,
      },
      json: { row: i, ...r, ...decodeRow(result, copyGBps, rates) },
    };
  });
}

function runWriteKv(stream: CudaStream, copyGBps: number): Row[] {
  progress('[1/1] writeKv 4096 rows');
  const result = benchWriteKv(stream);
  const gbps = result.bytes / (result.timing.medianUs * 1e-6) / 1e9;
  return [
    {
      cells: {
        tokens: 4096,
        'row bytes': 1152,
        us: fmt(result.timing.medianUs, 2),
        'GB/s': fmt(gbps, 0),
        'of copy': `${fmt((100 * gbps) / copyGBps)}%`,
        check: result.mismatches === 0 ? 'ok' : 'FAIL',
        target: '>= 85% of copy',
      },
      json: {
        tokens: 4096,
        bytes: result.bytes,
        us: result.timing.medianUs,
        gbps,
        copyFraction: gbps / copyGBps,
        mismatches: result.mismatches,
        rotatedCopies: result.rotatedCopies,
      },
    },
  ];
}

function runOverhead(stream: CudaStream): Row[] {
  progress('host overhead: 1000 calls of a tiny decode, 5 rounds');
  const r = measureHostOverhead(stream);
  return (['decode', 'step', 'graphReplay'] as const).map((kind) => ({
    cells: {
      what: {
        decode: 'flashMlaWithKvcache',
        step: 'getMlaMetadata + decode',
        graphReplay: 'graph replay of the step',
      }[kind],
      'wall us/call': fmt(r[kind].wallUs, 2),
      'GPU us/call': fmt(r[kind].gpuUs, 2),
      'host us/call (wall - GPU)': fmt(r[kind].hostUs, 2),
      'enqueue us/call': fmt(r[kind].enqueueUs, 2),
      check: 'ok',
      target: kind === 'graphReplay' ? '-' : '<= 10 us',
    },
    json: { kind, problem: r.problem, calls: r.calls, ...r[kind] },
  }));
}

function markdown(rows: Row[]): string {
  if (rows.length === 0) return '';
  const keys = Object.keys(rows[0].cells);
  const line = (cells: (string | number | boolean)[]): string => `| ${cells.join(' | ')} |`;
  return [
    line(keys),
    line(keys.map(() => '---')),
    ...rows.map((r) => line(keys.map((k) => r.cells[k]))),
  ].join('\n');
}

export async function runBenchCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(
      formatHelp(
        'flash-mla bench <mla|gqa|writekv|overhead> [options]',
        "Runs a GPU benchmark suite: data built as FlashMLA's tests build it, inputs\n" +
          'rotated so that the L2 cache does not serve them, a correctness check before timing, CUDA\n' +
          'events, 5 warm-ups, median of 30, and the copy ceiling measured in the same run, the one\n' +
          'figure the results are compared with (the comparison with FlashMLA is in the side-by-side\n' +
          'files of bench/results/).\n' +
          '`gqa` runs GQA/MHA/MQA decode in six groups of rows (core, head dim, heads, s_q causal,\n' +
          'small batch, varlen), each at page sizes 16 and 1 and the core rows at 64 too.\n' +
          '`overhead` measures the host time of one decode call from TypeScript, and graph replay.\n' +
          'The CPU backend has its own benchmark, in the source repository (not in the npm package).',
        FLAGS,
      ),
    );
    return 0;
  }
  const { values, positionals } = parseFlags(argv, FLAGS, 1);
  const suite = positionals[0] as Suite | undefined;
  if (!suite || !SUITES.includes(suite)) {
    throw new UsageError(
      `expected one suite of ${SUITES.join(', ')}, got '${positionals.join(' ')}'`,
    );
  }
  const size =
    suite === 'mla'
      ? MLA_ANCHOR.length
      : suite === 'gqa'
        ? GQA_SUITE.length
        : suite === 'writekv'
          ? 1
          : 3;
  const indices = (values.rows as number[] | undefined) ?? [...Array(size).keys()];
  for (const i of indices) {
    if (i < 0 || i >= size)
      throw new UsageError(`--rows: expected indices in [0, ${size}), got ${i}`);
  }
  const probe = probeCuda();
  if (!probe.available) throw new BackendUnavailableError('cuda', probe.reason);

  using stream = CudaStream.create();
  const device = cudaDeviceInfo();
  progress(`device: ${device.name}, ${device.smCount} SMs; measuring the copy ceiling`);
  const copyGBps = measureCopyCeilingGBps(stream);
  const rows =
    suite === 'mla'
      ? runMla(indices, stream, copyGBps)
      : suite === 'gqa'
        ? runGqa(indices, stream, copyGBps)
        : suite === 'writekv'
          ? runWriteKv(stream, copyGBps)
          : runOverhead(stream);

  const date = new Date().toISOString();
  const report = {
    suite,
    gpu: device.name,
    smCount: device.smCount,
    commit: (values.commit as string | undefined) ?? currentCommit(),
    version: packageVersion(),
    date,
    method:
      'CUDA events around each call, device spin before the start event, 5 warm-ups, median of 30, inputs rotated to >= 200 MB',
    copyCeilingGBps: copyGBps,
    comparison: COMPARISON,
    rows: rows.map((r) => r.json),
  };
  const dir = (values.out as string | undefined) ?? join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const slug = device.name.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const file = join(dir, `${suite}-${slug}-${date.slice(0, 10)}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  const failed = rows.filter((r) => r.cells.check !== 'ok').length;
  process.stdout.write(
    `\n${suite} on ${device.name}; copy ceiling ${fmt(copyGBps, 0)} GB/s (this run)\n\n${markdown(rows)}\n\n` +
      `${COMPARISON}\nwrote ${file}\n`,
  );
  if (failed) process.stdout.write(`${failed} row(s) FAILED the correctness check\n`);
  return failed ? 1 : 0;
}
