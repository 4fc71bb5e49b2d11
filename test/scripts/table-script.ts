// The README table scripts (scripts/*-table.mjs) as their tests run them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root. */
export const root = fileURLToPath(new URL('../../../', import.meta.url));

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A runner of scripts/NAME with node: its exit code and output. */
export function tableScript(name: string): (...args: string[]) => ScriptRun {
  const script = join(root, 'scripts', name);
  return (...args) => {
    const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
}

/**
 * `run(file, '--write', README)` on a README in `dir` whose `marker` block holds "old": only the
 * block changes, to the table of `file` (whose first line names the GPU "Test GPU").
 */
export function assertWritesOnlyItsBlock(
  run: (...args: string[]) => ScriptRun,
  file: string,
  dir: string,
  marker: string,
): void {
  const readme = join(dir, 'README.md');
  writeFileSync(readme, `before\n<!-- ${marker}:begin -->\nold\n<!-- ${marker}:end -->\nafter\n`);
  assert.equal(run(file, '--write', readme).code, 0);
  const text = readFileSync(readme, 'utf8');
  assert.ok(text.startsWith(`before\n<!-- ${marker}:begin -->\nTest GPU`));
  assert.ok(text.endsWith(`\n<!-- ${marker}:end -->\nafter\n`));
  assert.ok(!text.includes('old'));
}
