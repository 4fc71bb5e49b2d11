import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { UsageError } from '../../src/cli/args.js';
import { defaultTracePath, runSimulateCommand, TRACE_SOURCE_HINT } from '../../src/cli/simulate.js';

const TRACE_NAME = 'azure-llm-inference-2023-conv.csv';

/** A folder `<tmp>/pkg` standing for a package root; with `git`, a .git in it; with `trace`, the
 * default trace beside it. */
function packageFolder(o: { git: boolean; trace: boolean }): string {
  const base = mkdtempSync(join(tmpdir(), 'flash-mla-default-trace-'));
  const root = join(base, 'pkg');
  mkdirSync(root);
  if (o.git) mkdirSync(join(root, '.git'));
  if (o.trace) {
    mkdirSync(join(base, 'shared', 'data'), { recursive: true });
    writeFileSync(
      join(base, 'shared', 'data', TRACE_NAME),
      'TIMESTAMP,ContextTokens,GeneratedTokens\n',
    );
  }
  return root;
}

function assertSaysWhereToGetATrace(message: string): void {
  assert.match(message, /--trace/);
  assert.match(message, /Azure LLM inference trace/);
  assert.match(message, /AzureLLMInferenceTrace_conv\.csv/);
  assert.match(message, /AzurePublicDataset/);
  assert.match(message, /https:\/\/github\.com\/Azure\/AzurePublicDataset/);
}

test('a source checkout with the trace beside it reads that trace by default', () => {
  const root = packageFolder({ git: true, trace: true });
  assert.equal(defaultTracePath(root), join(root, '..', 'shared', 'data', TRACE_NAME));
});

/** `defaultTracePath(root)` throws a UsageError saying where to get a trace. */
function assertNoDefault(root: string): void {
  assert.throws(
    () => defaultTracePath(root),
    (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assertSaysWhereToGetATrace(e.message);
      return true;
    },
  );
}

test('an installed package (no .git) has no default trace, even with one beside it', () => {
  assertNoDefault(packageFolder({ git: false, trace: true }));
});

test('a source checkout without the trace says where to get one', () => {
  assertNoDefault(packageFolder({ git: true, trace: false }));
});

test('the hint and the help text name the trace and where it is published', async () => {
  assertSaysWhereToGetATrace(TRACE_SOURCE_HINT);
  let text = '';
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const code = await runSimulateCommand(['--help'], { stdout, stderr: process.stderr });
  assert.equal(code, 0);
  assert.match(text, /AzureLLMInferenceTrace_conv\.csv/);
  assert.match(text, /AzurePublicDataset/);
  assert.match(text, /needed when installed from npm/);
});
