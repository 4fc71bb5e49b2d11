// The C ABI fuzz test (test/native/abi_fuzz.c), built as plain C99 against build/libflashmla.so: every
// fmla_* function gets invalid arguments and must answer with a status, never crash. Without a GPU
// it checks the other half of the contract: no pointer is touched and every call refuses or reports
// that there is no device.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const build = join(root, 'build');
const SEED = 7;
const ITERATIONS = 500;

const skip = !existsSync(join(build, 'libflashmla.so'))
  ? 'build/libflashmla.so is missing (npm run build:native)'
  : spawnSync('cc', ['--version']).status !== 0
    ? 'no C compiler: cc is not on PATH'
    : false;

const work = skip ? '' : mkdtempSync(join(tmpdir(), 'fmla-abi-fuzz-'));
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test(
  'every fmla_* function answers invalid arguments with a status, never a crash',
  { skip },
  () => {
    const binary = join(work, 'fmla_abi_fuzz');
    const compile = spawnSync(
      'cc',
      [
        '-std=c99',
        '-O1',
        '-Wall',
        '-Wextra',
        `-I${join(root, 'csrc', 'include')}`,
        `-I${join(root, 'csrc', 'reference')}`,
        join(root, 'test', 'native', 'abi_fuzz.c'),
        '-o',
        binary,
        `-L${build}`,
        '-lflashmla',
        `-Wl,-rpath,${build}`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(compile.status, 0, compile.stderr);

    const run = spawnSync(binary, [String(SEED), String(ITERATIONS)], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const output = `${run.stdout}${run.stderr}`.slice(-6000);
    assert.equal(run.signal, null, `killed by ${run.signal}\n${output}`);
    assert.equal(run.status, 0, output);
    const summary = run.stdout.split('\n').find((line) => line.startsWith('summary: '));
    assert.ok(summary, `no summary line\n${output}`);
    assert.match(summary, new RegExp(`^summary: seed=${SEED} iterations=${ITERATIONS} `));
    assert.match(summary, / failures=0 /);
  },
);
