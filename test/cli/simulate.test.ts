import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runSimulateCommand } from '../../src/cli/simulate.js';

const SAMPLE = fileURLToPath(
  new URL(
    '../../../test/simulate/fixtures/azure-llm-inference-2023-conv-first200.csv',
    import.meta.url,
  ),
);
const REAL_TRACE = fileURLToPath(
  new URL('../../../../shared/data/azure-llm-inference-2023-conv.csv', import.meta.url),
);

class Capture extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function simulate(args: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runSimulateCommand(args, { stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function outputs(): { dir: string; args: string[]; json: string; plot: string } {
  const dir = mkdtempSync(join(tmpdir(), 'flash-mla-simulate-'));
  const json = join(dir, 'out', 'results.json');
  const plot = join(dir, 'plot.svg');
  return { dir, json, plot, args: ['--json', json, '--plot', plot] };
}

/** The sample trace replayed for Llama-3-8B without a progress bar, writing to `o`, with `args`. */
function sampleRun(o: ReturnType<typeof outputs>, args: string[]) {
  return simulate([
    '--trace',
    SAMPLE,
    '--model',
    'llama-3-8b',
    '--no-progress',
    ...args,
    ...o.args,
  ]);
}

test('--help prints the options and exits 0', async () => {
  const r = await simulate(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: flash-mla simulate/);
  for (const flag of [
    '--trace',
    '--budget-gib',
    '--on-full',
    '--time-scale',
    '--system-prompt',
    '--plot',
    '--slo-ttft',
    '--slo-tpot',
    '--step-model',
    '--chunked-prefill',
    '--kv-dtype',
  ]) {
    assert.ok(r.stdout.includes(flag), flag);
  }
});

test('bad flags exit 2 with a message naming the flag, and write nothing', async () => {
  const o = outputs();
  for (const [args, flag] of [
    [['--bogus'], 'bogus'],
    [['--time-scale', '0'], '--time-scale'],
    [['--time-scale', '1,x'], '--time-scale'],
    [['--budget-gib', '-4'], '--budget-gib'],
    [['--max-context', '1.5'], '--max-context'],
    [['--on-full', 'drop'], '--on-full'],
    [['--format', 'tsv'], '--format'],
    [['--reserve', '4096,all'], '--reserve'],
    [['--policies', 'paged-0'], '--policies'],
    [['--model', 'gpt-2'], '--model'],
    [['--limit'], 'limit'],
    [['--slo-ttft', '0'], '--slo-ttft'],
    [['--slo-tpot', '1,2'], '--slo-tpot'],
    [['--progress', '--no-progress'], '--progress'],
    [['--step-model', 'flops'], '--step-model'],
    [['--chunked-prefill', '0'], '--chunked-prefill'],
    [['--kv-dtype', 'int8'], '--kv-dtype'],
    [['--kv-dtype', 'bf16,fp16'], '--kv-dtype'],
    [['extra'], 'extra'],
  ] as const) {
    const r = await simulate([...args, ...o.args, '--trace', SAMPLE]);
    assert.equal(r.code, 2, args.join(' '));
    assert.ok(r.stderr.includes(flag), `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
  }
  assert.ok(!existsSync(o.json) && !existsSync(o.plot));
});

test('a malformed trace line exits 1 naming file, line and field, and reports nothing', async () => {
  const o = outputs();
  const trace = join(o.dir, 'broken.csv');
  writeFileSync(
    trace,
    'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,374,44\n2023-11-16 18:15:47.00,12,4x\n',
  );
  const r = await simulate(['--trace', trace, ...o.args]);
  assert.equal(r.code, 1);
  assert.ok(
    r.stderr.includes(`${trace}:3: GeneratedTokens: expected an integer >= 0, got "4x"`),
    r.stderr,
  );
  assert.equal(r.stdout, '');
  assert.ok(!existsSync(o.json) && !existsSync(o.plot));
  const missing = await simulate(['--trace', join(o.dir, 'none.csv'), ...o.args]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /path: expected a readable trace file, got .*none\.csv.*ENOENT/);
});

test('a run prints a table per scenario and writes the JSON and the plot', async () => {
  const o = outputs();
  const r = await sampleRun(o, ['--time-scale', '1,50', '--budget-gib', '2']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.ok(r.stdout.includes('### llama-3-8b, bf16 KV cache, arrivals as recorded'));
  assert.ok(r.stdout.includes('### llama-3-8b, bf16 KV cache, arrivals 50x as fast'));
  assert.equal(r.stdout.match(/^\| paged-16 \|/gm)?.length, 6); // three tables per scenario
  const json = JSON.parse(readFileSync(o.json, 'utf8'));
  assert.equal(json.trace.requests, 200);
  assert.match(json.trace.attribution, /CC-BY 4\.0/);
  assert.equal(json.scenarios.length, 2);
  assert.equal(json.scenarios[1].timeScale, 50);
  assert.equal(json.scenarios[0].budgetBytes, 2 * 2 ** 30);
  const policies = json.scenarios[1].policies;
  assert.deepEqual(
    policies.map((p: { policy: string }) => p.policy),
    ['contiguous-max', 'contiguous-exact', 'paged-1', 'paged-16', 'paged-64'],
  );
  assert.equal(policies[0].series, undefined);
  assert.equal(policies[3].completed, 200);
  // 2 GiB holds two 1 GiB max-context regions of Llama-3-8B.
  assert.equal(policies[0].running.max, 2);
  const svg = readFileSync(o.plot, 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal(svg.match(/<polyline /g)?.length, 2 * 2 * 5);
  assert.ok(svg.trimEnd().endsWith('</svg>'));
});

test('--progress draws a bar on stderr even when it is not a terminal', async () => {
  const o = outputs();
  const r = await simulate(['--trace', SAMPLE, '--model', 'llama-3-8b', '--progress', ...o.args]);
  assert.equal(r.code, 0);
  assert.match(r.stderr, /\[#+\] 100% 5\/5 replays/);
});

test('the default trace is found beside the package root', async (t) => {
  if (!existsSync(REAL_TRACE)) {
    t.skip(`${REAL_TRACE} is not there`);
    return;
  }
  const o = outputs();
  const r = await simulate([
    '--limit',
    '30',
    '--model',
    'deepseek-v3',
    '--policies',
    'paged-16',
    ...o.args,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes('## Memory study: 30 requests of'));
  assert.ok(r.stdout.includes('azure-llm-inference-2023-conv.csv'));
});

test('skipped rows and dropped requests are printed and in the JSON; --strict makes them errors', async () => {
  const o = outputs();
  const trace = join(o.dir, 'zeros.csv');
  writeFileSync(
    trace,
    'TIMESTAMP,ContextTokens,GeneratedTokens\n0,100,5\n1,0,4\n2,9000,4\n3,50,0\n4,70,2\n',
  );
  const r = await simulate(['--trace', trace, '--model', 'llama-3-8b', '--no-progress', ...o.args]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes('3 requests of'), r.stdout);
  assert.ok(r.stdout.includes('(2 rows skipped: no prompt or no output)'), r.stdout);
  assert.ok(r.stdout.includes('1 longer than the context (dropped)'), r.stdout);
  const json = JSON.parse(readFileSync(o.json, 'utf8'));
  assert.equal(json.trace.skippedRows, 2);
  assert.equal(json.scenarios[0].skippedRows, 2);
  assert.equal(json.scenarios[0].rejectedTooLong, 1);
  const strict = await simulate(['--trace', trace, '--strict', ...o.args]);
  assert.equal(strict.code, 1);
  assert.ok(
    strict.stderr.includes(`${trace}:3: ContextTokens: expected an integer >= 1, got "0"`),
    strict.stderr,
  );
});

test('a Mooncake JSONL trace is read by its extension or by --format', async () => {
  const o = outputs();
  const rows = [
    '{"timestamp": 0, "input_length": 1000, "output_length": 4, "hash_ids": [0, 1]}',
    '{"timestamp": 500, "input_length": 600, "output_length": 2, "hash_ids": [0, 2]}',
  ].join('\n');
  const jsonl = join(o.dir, 'requests.jsonl');
  const txt = join(o.dir, 'requests.txt');
  writeFileSync(jsonl, rows);
  writeFileSync(txt, rows);
  for (const args of [
    ['--trace', jsonl],
    ['--trace', txt, '--format', 'mooncake'],
  ]) {
    const r = await simulate([...args, '--model', 'llama-3-8b', '--no-progress', ...o.args]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes('## Memory study: 2 requests of'), r.stdout);
    const json = JSON.parse(readFileSync(o.json, 'utf8'));
    assert.equal(json.scenarios[0].policies[2].decode.tokens, 6);
  }
  const asCsv = await simulate(['--trace', txt, ...o.args]);
  assert.equal(asCsv.code, 1);
  assert.match(asCsv.stderr, /requests\.txt:1: header: expected a column TIMESTAMP/);
});

test('--reserve compares paging with contiguous baselines of configured lengths and the oracle', async () => {
  const o = outputs();
  const r = await sampleRun(o, ['--reserve', '512,2048,model']);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(readFileSync(o.json, 'utf8'));
  const by = Object.fromEntries(
    json.scenarios[0].policies.map((p: { policy: string }) => [p.policy, p]),
  );
  assert.deepEqual(Object.keys(by), [
    'contiguous-512',
    'contiguous-2048',
    'contiguous-max',
    'contiguous-exact',
    'paged-1',
    'paged-16',
    'paged-64',
  ]);
  // A request longer than its reservation cannot be served by that baseline.
  const sample = readFileSync(SAMPLE, 'utf8').trim().split('\n').slice(1);
  const longer = (n: number) =>
    sample.filter((line) => {
      const [, context, generated] = line.split(',').map(Number);
      return context + generated > n;
    }).length;
  assert.ok(longer(512) > longer(2048));
  assert.equal(by['contiguous-512'].rejectedTooLarge, longer(512));
  assert.equal(by['contiguous-2048'].rejectedTooLarge, longer(2048));
  assert.equal(by['contiguous-512'].completed, 200 - longer(512));
  for (const baseline of [
    'contiguous-512',
    'contiguous-2048',
    'contiguous-max',
    'contiguous-exact',
  ]) {
    assert.ok(r.stdout.includes(`memory per request vs ${baseline}`), baseline);
  }
});

test('--step-model and --chunked-prefill set the step cost, named in the setup line and the JSON', async () => {
  const o = outputs();
  const args = ['--budget-gib', '2', '--time-scale', '30', '--policies', 'paged-16'];
  const compute = await sampleRun(o, args);
  assert.equal(compute.code, 0, compute.stderr);
  assert.match(compute.stdout, /step model compute: step = 0\.00 ms \+ linear layers/);
  assert.match(compute.stdout, /755\.6 TFLOP\/s .* 4,122 GB\/s .*, whole prefills, on full/);
  const json = JSON.parse(readFileSync(o.json, 'utf8')).scenarios[0];
  assert.equal(json.stepModel, 'compute');
  assert.equal(json.stepRates.matmulFlopsPerS, 755.62e12);
  assert.equal(json.chunkedPrefillTokens, 0);
  const chunked = await sampleRun(o, [...args, '--chunked-prefill', '512']);
  assert.match(chunked.stdout, /chunked prefill of 512 tokens a step/);
  const bandwidth = await sampleRun(o, [...args, '--step-model', 'bandwidth']);
  assert.match(
    bandwidth.stdout,
    /step model bandwidth: step = 5\.35 ms \+ KV bytes \/ 3,004 GB\/s/,
  );
  const old = JSON.parse(readFileSync(o.json, 'utf8')).scenarios[0];
  assert.equal(old.stepModel, 'bandwidth');
  assert.equal(old.stepRates, undefined);
  // Prefill compute makes the same replay slower than the bandwidth model says.
  const tokensPerSecond = (s: typeof json) => s.policies[0].decode.tokensPerSecond;
  assert.ok(tokensPerSecond(json) < tokensPerSecond(old));
});

test('--slo-ttft and --slo-tpot set the objectives of goodput, in the table and the JSON', async () => {
  const o = outputs();
  const strict = await sampleRun(o, [
    '--budget-gib',
    '2',
    '--slo-ttft',
    '0.5',
    '--slo-tpot',
    '0.02',
  ]);
  assert.equal(strict.code, 0, strict.stderr);
  assert.ok(strict.stdout.includes('goodput req/s (TTFT <= 0.5 s, TPOT <= 0.02 s)'));
  const json = JSON.parse(readFileSync(o.json, 'utf8'));
  assert.equal(json.scenarios[0].sloTtftSeconds, 0.5);
  assert.equal(json.scenarios[0].sloTpotSeconds, 0.02);
  const good = (p: { latency: { goodput: { requests: number } } }) => p.latency.goodput.requests;
  const loose = await sampleRun(o, ['--budget-gib', '2', '--slo-ttft', '1e6', '--slo-tpot', '1e6']);
  assert.equal(loose.code, 0, loose.stderr);
  const all = JSON.parse(readFileSync(o.json, 'utf8')).scenarios[0].policies;
  // With objectives nobody misses, every completed request counts; tighter ones count fewer.
  json.scenarios[0].policies.forEach(
    (p: { latency: { goodput: { requests: number } } }, i: number) => {
      assert.equal(good(all[i]), all[i].completed);
      assert.ok(good(p) <= good(all[i]));
    },
  );
  assert.ok(good(json.scenarios[0].policies[3]) < good(all[3]));
});

test('--prefix-cache adds the prefix-caching policies for a trace with hash ids, and exits 2 without them', async () => {
  const o = outputs();
  // Two requests that start with the same 512-token block (hash id 7).
  const rows = [
    '{"timestamp": 0, "input_length": 1000, "output_length": 4, "hash_ids": [7, 1]}',
    '{"timestamp": 500, "input_length": 600, "output_length": 2, "hash_ids": [7, 2]}',
  ].join('\n');
  const jsonl = join(o.dir, 'shared.jsonl');
  writeFileSync(jsonl, rows);
  const r = await simulate([
    '--trace',
    jsonl,
    '--prefix-cache',
    '--model',
    'llama-3-8b',
    '--no-progress',
    ...o.args,
  ]);
  assert.equal(r.code, 0, r.stderr);
  for (const page of [1, 16, 64]) {
    assert.ok(r.stdout.includes(`| paged-${page}-prefix |`), r.stdout);
  }
  const json = JSON.parse(readFileSync(o.json, 'utf8'));
  const names = json.scenarios[0].policies.map((p: { policy: string }) => p.policy);
  assert.ok(names.includes('paged-16-prefix'), JSON.stringify(names));

  const withoutIds = await simulate(['--trace', SAMPLE, '--prefix-cache', ...o.args]);
  assert.equal(withoutIds.code, 2);
  assert.match(withoutIds.stderr, /prefix/);
});

test('--kv-dtype replays each scenario per cache dtype, named in the heading, the setup line, the JSON and the plot', async () => {
  const o = outputs();
  const r = await sampleRun(o, ['--budget-gib', '2', '--kv-dtype', 'bf16,fp8']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes('### llama-3-8b, bf16 KV cache, arrivals as recorded'), r.stdout);
  assert.ok(r.stdout.includes('### llama-3-8b, fp8 KV cache, arrivals as recorded'), r.stdout);
  assert.ok(r.stdout.includes('fp8 KV cache: 65,536 bytes per token and 256 bytes of scales'));
  const [bf16, fp8] = JSON.parse(readFileSync(o.json, 'utf8')).scenarios;
  assert.deepEqual([bf16.kvDtype, bf16.bytesPerToken, bf16.kvFixedBytes], ['bf16', 131_072, 0]);
  assert.deepEqual([fp8.kvDtype, fp8.bytesPerToken, fp8.kvFixedBytes], ['fp8', 65_536, 256]);
  assert.match(fp8.layout, /^GQA in fp8_e4m3/);
  // 2 GiB less 256 bytes holds twice the bf16 slots, less one 16-token page of fp8.
  const paged16 = (s: { policies: { policy: string; capacityBytes: number }[] }) =>
    s.policies.find((p) => p.policy === 'paged-16')!.capacityBytes;
  assert.equal(paged16(bf16), 2 * 2 ** 30);
  assert.equal(paged16(fp8), 2 * 2 ** 30 - 16 * 65_536);
  assert.match(readFileSync(o.plot, 'utf8'), /llama-3-8b, fp8 KV cache, arrivals as recorded/);
});
