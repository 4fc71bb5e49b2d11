// Imports run downward (DESIGN.md): attention/ uses schedule/ and the backend interface, never a
// backend's internals; a backend never imports attention/; schedule/ and fp8/ sit below both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { packageRoot } from '../src/package-root.js';

/** A folder (relative to src/) and the folders its files must not import from. */
const FORBIDDEN: readonly (readonly [string, readonly string[]])[] = [
  ['attention/', ['backend/cpu/', 'backend/cuda/']],
  ['backend/', ['attention/']],
  ['schedule/', ['attention/', 'backend/']],
  ['fp8/', ['attention/', 'backend/']],
];

/** The relative module specifiers of `import ... from`, `export ... from`, `import()`. */
function relativeImports(source: string): string[] {
  const specs = source.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g);
  return [...specs].map((m) => m[1]);
}

/** `importer -> imported` pairs that break the rule; paths are relative to src/, with '/'. */
function violations(imports: ReadonlyMap<string, readonly string[]>): string[] {
  const found: string[] = [];
  for (const [file, specs] of imports) {
    for (const spec of specs) {
      const target = posix.normalize(posix.join(posix.dirname(file), spec));
      for (const [folder, banned] of FORBIDDEN) {
        if (!file.startsWith(folder)) continue;
        if (banned.some((b) => target.startsWith(b))) found.push(`${file} -> ${target}`);
      }
    }
  }
  return found;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

function srcImports(): Map<string, string[]> {
  const src = join(packageRoot(), 'src');
  const imports = new Map<string, string[]>();
  for (const path of tsFiles(src)) {
    const file = relative(src, path).split(/[\\/]/).join('/');
    imports.set(file, relativeImports(readFileSync(path, 'utf8')));
  }
  return imports;
}

test('the checker sees a wrong-way import', () => {
  const bad = new Map([
    ['attention/validate.ts', ["import { x } from '../backend/cpu/host-data.js';"]],
    ['backend/cpu/index.ts', ["export { y } from '../../attention/validate.js';"]],
    ['schedule/index.ts', ["const z = await import('../backend/backend.js');"]],
    ['attention/ok.ts', ["import type { B } from '../backend/backend.js';"]],
  ]);
  const parsed = new Map([...bad].map(([file, [line]]) => [file, relativeImports(line)]));
  assert.deepEqual(violations(parsed), [
    'attention/validate.ts -> backend/cpu/host-data.js',
    'backend/cpu/index.ts -> attention/validate.js',
    'schedule/index.ts -> backend/backend.js',
  ]);
});

test('src/ imports run downward', () => {
  const imports = srcImports();
  // Not vacuous: the folders the rule speaks of exist and import something.
  for (const folder of ['attention/', 'backend/cpu/', 'schedule/', 'fp8/']) {
    const files = [...imports].filter(([file]) => file.startsWith(folder));
    assert.ok(
      files.some(([, specs]) => specs.length > 0),
      `imports found under src/${folder}`,
    );
  }
  assert.deepEqual(violations(imports), []);
});
