import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MANIFEST = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  main: string;
  types: string;
  exports: Record<string, string | Record<string, Record<string, string>>>;
};

/** The files `npm pack` would put in the tarball (without running the build scripts). */
function packedFiles(): Set<string> {
  const stdout = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [pack] = JSON.parse(stdout) as { files: { path: string }[] }[];
  return new Set(pack.files.map((f) => f.path));
}

const files = packedFiles();
const normal = (path: string): string => posix.normalize(path.replace(/^\.\//, ''));

test('the tarball holds the license, the readme and the manifest', () => {
  for (const path of ['LICENSE', 'README.md', 'package.json']) {
    assert.ok(files.has(path), `${path} is packed`);
  }
  assert.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), /^MIT License\n/);
});

test('the tarball holds no tests, benchmark programs or examples', () => {
  const helpers = [...files].filter((f) =>
    /^dist\/(test|bench|examples)\/|^(test|bench\/cpu|examples)\/|access-recorder/.test(f),
  );
  assert.deepEqual(helpers, []);
});

test('every packed source map has its sources packed', () => {
  for (const path of [...files].filter((f) => f.endsWith('.map'))) {
    const map = JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as { sources: string[] };
    for (const source of map.sources) {
      const sourcePath = posix.join(posix.dirname(path), source);
      assert.ok(files.has(sourcePath), `${path} points at ${sourcePath}, which is packed`);
    }
  }
});

test('the bin target and every entry point of the manifest are packed', () => {
  const targets = [...Object.values(MANIFEST.bin), MANIFEST.main, MANIFEST.types];
  for (const entry of Object.values(MANIFEST.exports)) {
    if (typeof entry === 'string') targets.push(entry);
    else for (const condition of Object.values(entry)) targets.push(...Object.values(condition));
  }
  assert.ok(targets.length >= 7);
  for (const target of targets) assert.ok(files.has(normal(target)), `${target} is packed`);
  const bin = readFileSync(join(ROOT, MANIFEST.bin['flash-mla']), 'utf8');
  assert.match(bin, /^#!\/usr\/bin\/env node\n/);
});

test('the CommonJS build is marked as CommonJS and what it loads is packed', () => {
  assert.ok(files.has('dist/cjs/package.json'));
  const marker = JSON.parse(readFileSync(join(ROOT, 'dist/cjs/package.json'), 'utf8'));
  assert.deepEqual(marker, { type: 'commonjs' });
  for (const path of [...files].filter((f) => f.startsWith('dist/cjs/') && f.endsWith('.js'))) {
    const text = readFileSync(join(ROOT, path), 'utf8');
    assert.doesNotMatch(text, /import\.meta/, `${path} has no import.meta`);
    for (const [, spec] of text.matchAll(/require\("(\.[^"]+)"\)/g)) {
      const target = posix.join(posix.dirname(path), spec);
      assert.ok(files.has(target), `${path} requires ${target}, which is packed`);
    }
  }
});

test('the paths the help texts name are packed', () => {
  const main = join(ROOT, MANIFEST.bin['flash-mla']);
  const help = ['info', 'demo', 'bench', 'simulate']
    .map((command) =>
      execFileSync(process.execPath, [main, command, '--help'], { encoding: 'utf8' }),
    )
    .join('\n');
  assert.match(help, /bench\/results/);
  assert.ok([...files].some((f) => f.startsWith('bench/results/side-by-side-')));
  assert.doesNotMatch(help, /dist\/bench|TARGETS\.md/);
  assert.ok(files.has('scripts/perf-table.mjs'));
});
