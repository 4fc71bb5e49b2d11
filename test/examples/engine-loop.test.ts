// The TypeScript engine-loop example runs to completion and leaves no page behind.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const example = fileURLToPath(new URL('../../examples/ts/engine-loop.js', import.meta.url));

test('the engine loop example serves every request and frees every page', () => {
  const r = spawnSync(process.execPath, [example, '--steps', '20', '--requests', '4'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /saved by sharing [1-9]/);
  assert.match(r.stdout, /done: 4 requests finished, 0 pages still in use/);
});
