// The C engine-loop example builds against libflashmla.so and runs its decode steps on the GPU.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { skipWithoutGpu } from './gpu.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test(
  'examples/c/decode builds and every step matches the reference',
  { skip: skipWithoutGpu },
  () => {
    const make = spawnSync('make', ['-C', 'examples/c'], { cwd: root, encoding: 'utf8' });
    assert.equal(make.status, 0, make.stderr);
    const run = spawnSync('examples/c/decode', [], { cwd: root, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /OK/);
    assert.doesNotMatch(run.stdout, /FAIL/);
  },
);
