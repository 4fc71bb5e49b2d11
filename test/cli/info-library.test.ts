// `flash-mla info` names the native library it found and why that one (or why none), for each place
// the library can come from. Fake libraries stand in for real ones: the lines are about finding.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findNativeLibrary, LIBRARY_ENV } from '../../src/backend/cuda/library-path.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
// Real path: the CLI finds its package from its own (resolved) location.
const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'fmla-info-')));
after(() => rmSync(scratch, { recursive: true, force: true }));

const withoutLibraryEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env[LIBRARY_ENV];
  return env;
};

function info(main: string, env: NodeJS.ProcessEnv, ...args: string[]) {
  const r = spawnSync(process.execPath, [main, 'info', ...args], {
    encoding: 'utf8',
    env,
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const MAIN = join(ROOT, 'dist/src/cli/main.js');

test('info names the library of this checkout and why that one', () => {
  const env = withoutLibraryEnv();
  const found = findNativeLibrary({ env });
  const out = info(MAIN, env);
  if (found.found) {
    assert.ok(
      out.includes(`native library: ${found.path}\n  why this one: ${found.reason}\n`),
      out,
    );
    assert.equal(found.place === 'build', out.includes('built in this checkout'));
  } else {
    assert.match(out, /native library: none found\n/);
    assert.ok(out.includes(found.reason), out);
  }
});

test('info names $FLASH_MLA_LIBRARY as the source, and why loading it failed', () => {
  const fake = join(scratch, 'fake', 'libflashmla.so');
  mkdirSync(join(scratch, 'fake'));
  writeFileSync(fake, 'not an ELF file');
  const env = { ...withoutLibraryEnv(), [LIBRARY_ENV]: fake };
  const out = info(MAIN, env);
  assert.ok(
    out.includes(`native library: ${fake}\n  why this one: set by FLASH_MLA_LIBRARY\n`),
    out,
  );
  assert.match(out, /cuda {2}unavailable {2}cannot load /);
  const json = JSON.parse(info(MAIN, env, '--json')) as {
    backends: { name: string; library?: { place: string; path: string } }[];
  };
  assert.deepEqual(
    json.backends.map((b) => b.library && [b.library.place, b.library.path]),
    [undefined, ['env', fake]],
  );
});

test('info says why no library could be loaded', () => {
  const missing = join(scratch, 'missing', 'libflashmla.so');
  const out = info(MAIN, { ...withoutLibraryEnv(), [LIBRARY_ENV]: missing });
  assert.ok(out.includes(`cuda  unavailable  FLASH_MLA_LIBRARY=${missing}: no such file`), out);
  assert.match(out, /native library: none found\n/);
});

test('info of an installed package without build/ names its prebuilt library', () => {
  // The package as installed: the compiled code, the manifest, a library in prebuilds/.
  const installed = join(scratch, 'node_modules', 'flash-mla-ts');
  cpSync(join(ROOT, 'dist/src'), join(installed, 'dist/src'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(installed, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(installed, 'node_modules'));
  const target = `${process.platform}-${process.arch}`;
  const prebuilt = join(installed, 'prebuilds', target, 'libflashmla.so');
  mkdirSync(join(prebuilt, '..'), { recursive: true });
  writeFileSync(prebuilt, 'not an ELF file');
  const out = info(join(installed, 'dist/src/cli/main.js'), withoutLibraryEnv());
  assert.ok(
    out.includes(
      `native library: ${prebuilt}\n  why this one: prebuilt for ${target} ` +
        '(no FLASH_MLA_LIBRARY, no build/libflashmla.so in this checkout)\n',
    ),
    out,
  );
});
