// The CLI end to end, as a user runs it: exit codes, help, and clear messages for wrong flags.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GQA_SUITE } from '../../src/bench/suites.js';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('no command prints the usage and exits 2', () => {
  const r = cli();
  assert.equal(r.code, 2);
  assert.match(r.stdout, /Usage: flash-mla <command>/);
});

test('--help lists every command', () => {
  const r = cli('--help');
  assert.equal(r.code, 0);
  for (const c of ['info', 'demo', 'bench', 'simulate'])
    assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
});

test('an unknown command exits 2 and names it', () => {
  const r = cli('frobnicate');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});

for (const command of ['info', 'demo', 'bench', 'simulate']) {
  test(`${command} --help exits 0 with a usage line`, () => {
    const r = cli(command, '--help');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Usage: flash-mla ${command}`));
  });

  test(`${command} rejects an unknown flag with exit code 2`, () => {
    const r = cli(command, '--no-such-flag');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown flag --no-such-flag/);
  });
}

test('info reports the version and each backend, with the reason when unavailable', () => {
  const r = cli('info', '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as {
    version: string;
    backends: { name: string; available: boolean; detail: string }[];
  };
  assert.match(report.version, /^\d+\.\d+\.\d+/);
  const names = report.backends.map((b) => b.name);
  assert.deepEqual(names, ['cpu', 'cuda']);
  assert.equal(report.backends[0].available, true);
  const cuda = report.backends[1];
  if (!cuda.available) assert.ok(cuda.detail.length > 10, 'an unavailable backend says why');
});

test('demo runs one checked MLA decode step on the CPU', () => {
  const r = cli('demo', '--backend', 'cpu', '--batch', '2', '--seqlen', '300');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /max abs error/);
  assert.match(r.stdout, /PASS/);
});

test('demo says on stderr what takes a second or more, and nothing for a short run', () => {
  const short = cli('demo', '--backend', 'cpu', '--batch', '1', '--seqlen', '64');
  assert.equal(short.code, 0, short.stderr);
  assert.equal(short.stderr, '');
  const long = cli('demo', '--backend', 'cpu', '--batch', '1', '--seqlen', '8192', '--heads', '64');
  assert.equal(long.code, 0, long.stderr);
  assert.match(long.stderr, /computing the float64 reference \(about \d+ s\)\.\.\./);
  assert.match(long.stderr, /computing the float64 reference: done in \d+\.\d s/);
});

test('demo checks the size of the problem before building it', () => {
  const start = Date.now();
  const r = cli('demo', '--backend', 'cpu', '--batch', '100000', '--seqlen', '100000');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--batch and --seqlen: expected at most \d+ cached tokens in all/);
  assert.ok(Date.now() - start < 20_000, 'refused at once');
});

test('demo rejects a bad value with exit code 2', () => {
  const r = cli('demo', '--batch', 'many');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--batch: expected an integer, got 'many'/);
});

for (const command of ['info', 'demo', 'bench']) {
  test(`${command} -h prints the same help as --help`, () => {
    const short = cli(command, '-h');
    assert.equal(short.code, 0, short.stderr);
    assert.equal(short.stdout, cli(command, '--help').stdout);
    assert.match(short.stdout, /-h, --help/);
  });
}

test('demo names the flag of a negative or oversized number, in its own words', () => {
  const negative = cli('demo', '--batch', '-1');
  assert.equal(negative.code, 2);
  assert.match(negative.stderr, /--batch: expected an integer in \[1, 2147483647\], got '-1'/);
  const huge = cli('demo', '--seqlen', '99999999999999999999');
  assert.equal(huge.code, 2);
  assert.match(huge.stderr, /--seqlen: expected an integer of at most 2\^53 - 1/);
  const past = cli('demo', '--seqlen=4294967296');
  assert.equal(past.code, 2);
  assert.match(past.stderr, /--seqlen: expected an integer in \[1, 2147483647\]/);
  const short = cli('demo', '-x');
  assert.equal(short.code, 2);
  assert.match(short.stderr, /unknown flag -x/);
});

test('simulate -h prints the same help as --help', () => {
  const short = cli('simulate', '-h');
  assert.equal(short.code, 0, short.stderr);
  assert.equal(short.stdout, cli('simulate', '--help').stdout);
  assert.match(short.stdout, /-h, --help/);
});

for (const [command, ...args] of [['info'], ['demo'], ['bench', 'mla'], ['simulate']]) {
  test(`${command} rejects a stray argument with exit code 2, naming it`, () => {
    const r = cli(command, ...args, 'stray');
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `flash-mla ${command}: unexpected argument 'stray'\n` +
        `Run 'flash-mla ${command} --help' for the options.\n`,
    );
  });

  test(`${command} -h after other arguments prints the help`, () => {
    const r = cli(command, ...args, 'stray', '-h');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Usage: flash-mla ${command}`));
  });
}

test('simulate names the flag of a negative time scale, in its own words', () => {
  const r = cli('simulate', '--time-scale', '-1');
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    "flash-mla simulate: --time-scale: expected a number > 0, got '-1'\n" +
      "Run 'flash-mla simulate --help' for the options.\n",
  );
  const listed = cli('simulate', '--time-scale=1,-30');
  assert.equal(listed.code, 2);
  assert.match(listed.stderr, /--time-scale: expected a number > 0, got '-30'/);
});

test('a flag that allows negative numbers takes them, with or without =', () => {
  for (const args of [['--seed', '-5'], ['--seed=-5']]) {
    const r = cli('demo', '--backend', 'cpu', '--batch', '1', '--seqlen', '64', ...args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /PASS/);
  }
});

test('bench gqa takes --rows within its suite, before looking for a GPU', () => {
  const n = GQA_SUITE.length;
  const r = cli('bench', 'gqa', '--rows', `0,${n}`);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`--rows: expected indices in \\[0, ${n}\\), got ${n}`));
  const help = cli('bench', '--help');
  assert.match(help.stdout, /core, head dim, heads, s_q causal,\s+small batch, varlen/);
});
