// The order the native library is looked for in ($FLASH_MLA_LIBRARY, build/, prebuilds/), on package
// folders made of plain files: finding needs no GPU and no real library, only loading does.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import {
  findNativeLibrary,
  LIBRARY_ENV,
  prebuiltLibraryDir,
  type LookupOptions,
} from '../../../src/backend/cuda/library-path.js';
import { loadedNativeLibrary, nativeLibrary } from '../../../src/backend/cuda/runtime.js';
import { BackendUnavailableError } from '../../../src/errors.js';

const scratch = mkdtempSync(join(tmpdir(), 'fmla-library-path-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let folders = 0;
/** A package folder holding a fake library at each of the given relative paths. */
function packageWith(...files: string[]): string {
  const root = join(scratch, `package-${folders++}`);
  mkdirSync(root);
  for (const file of files) {
    mkdirSync(join(root, file, '..'), { recursive: true });
    writeFileSync(join(root, file), 'not an ELF file');
  }
  return root;
}

const BUILT = 'build/libflashmla.so';
const PREBUILT = 'prebuilds/linux-x64/libflashmla.so';
const LINUX_X64: LookupOptions = { env: {}, platform: 'linux', arch: 'x64' };

test('the prebuilt folder follows the prebuilds/<platform>-<arch> layout', () => {
  assert.equal(`${prebuiltLibraryDir('linux', 'x64')}/libflashmla.so`, PREBUILT);
});

test('an installed package without build/ loads its prebuilt library, and says why', () => {
  const root = packageWith(PREBUILT);
  const found = findNativeLibrary({ ...LINUX_X64, root });
  assert.ok(found.found);
  assert.equal(found.place, 'prebuilt');
  assert.equal(found.path, join(root, PREBUILT));
  assert.equal(
    found.reason,
    'prebuilt for linux-x64 (no FLASH_MLA_LIBRARY, no build/libflashmla.so in this checkout)',
  );
  assert.deepEqual(
    found.skipped.map((s) => [s.place, s.path && relative(root, s.path)]),
    [
      ['env', undefined],
      ['build', BUILT],
    ],
  );
});

test('build/ of a source checkout comes before the prebuilt library', () => {
  const root = packageWith(BUILT, PREBUILT);
  const found = findNativeLibrary({ ...LINUX_X64, root });
  assert.ok(found.found);
  assert.equal(found.place, 'build');
  assert.equal(found.path, join(root, BUILT));
  assert.equal(found.reason, 'built in this checkout (no FLASH_MLA_LIBRARY)');
});

test('$FLASH_MLA_LIBRARY comes before build/ and the prebuilt library', () => {
  const root = packageWith(BUILT, PREBUILT, 'elsewhere/libflashmla.so');
  const chosen = join(root, 'elsewhere/libflashmla.so');
  const found = findNativeLibrary({ ...LINUX_X64, root, env: { [LIBRARY_ENV]: chosen } });
  assert.ok(found.found);
  assert.equal(found.place, 'env');
  assert.equal(found.path, chosen);
  assert.equal(found.reason, 'set by FLASH_MLA_LIBRARY');
  assert.deepEqual(found.skipped, []);
});

test('a relative $FLASH_MLA_LIBRARY is taken from the working directory', () => {
  const root = packageWith('lib/libflashmla.so');
  const env = { [LIBRARY_ENV]: relative(process.cwd(), join(root, 'lib/libflashmla.so')) };
  const found = findNativeLibrary({ ...LINUX_X64, root, env });
  assert.ok(found.found);
  assert.equal(found.path, join(root, 'lib/libflashmla.so'));
});

test('a $FLASH_MLA_LIBRARY that does not exist is an error, not a fall back to the others', () => {
  const root = packageWith(BUILT, PREBUILT);
  const missing = join(root, 'no-such/libflashmla.so');
  const found = findNativeLibrary({ ...LINUX_X64, root, env: { [LIBRARY_ENV]: missing } });
  assert.equal(found.found, false);
  assert.equal(
    found.reason,
    `FLASH_MLA_LIBRARY=${missing}: no such file (when set, no other place is looked at)`,
  );
});

test('an empty $FLASH_MLA_LIBRARY counts as unset', () => {
  const root = packageWith(PREBUILT);
  const found = findNativeLibrary({ ...LINUX_X64, root, env: { [LIBRARY_ENV]: '' } });
  assert.ok(found.found);
  assert.equal(found.place, 'prebuilt');
});

test('with nothing to load, every place is named in order with how to get a library', () => {
  const root = packageWith();
  const found = findNativeLibrary({ ...LINUX_X64, root });
  assert.equal(found.found, false);
  assert.deepEqual(
    found.skipped.map((s) => s.place),
    ['env', 'build', 'prebuilt'],
  );
  assert.equal(
    found.reason,
    'no native library found (no FLASH_MLA_LIBRARY, no build/libflashmla.so in this checkout, ' +
      "no library prebuilt for linux-x64): run 'npm run build:native' (needs nvcc) or set " +
      'FLASH_MLA_LIBRARY',
  );
});

test('the linux-x64 library is not taken on another platform or architecture', () => {
  const root = packageWith(PREBUILT);
  for (const [platform, arch] of [
    ['linux', 'arm64'],
    ['darwin', 'x64'],
  ]) {
    const found = findNativeLibrary({ env: {}, root, platform, arch });
    assert.equal(found.found, false, `${platform}-${arch}`);
    assert.match(found.reason, new RegExp(`no library prebuilt for ${platform}-${arch}`));
    assert.equal(
      found.skipped.at(-1)?.path,
      join(root, `prebuilds/${platform}-${arch}/libflashmla.so`),
    );
  }
});

test('a folder where the library should be is passed over', () => {
  const root = packageWith(PREBUILT);
  mkdirSync(join(root, BUILT), { recursive: true });
  const found = findNativeLibrary({ ...LINUX_X64, root });
  assert.ok(found.found);
  assert.equal(found.place, 'prebuilt');
});

test('the runtime loads what was found: a library that cannot load fails with the reason', () => {
  const saved = process.env[LIBRARY_ENV];
  try {
    process.env[LIBRARY_ENV] = join(scratch, 'missing', 'libflashmla.so');
    assert.throws(
      () => nativeLibrary(),
      (e: unknown) => e instanceof BackendUnavailableError && /no such file/.test(e.reason),
    );
    // Found, but not a shared library: finding succeeds, loading fails.
    const fake = join(packageWith('fake/libflashmla.so'), 'fake/libflashmla.so');
    process.env[LIBRARY_ENV] = fake;
    assert.throws(
      () => nativeLibrary(),
      (e: unknown) =>
        e instanceof BackendUnavailableError && e.reason.includes(`cannot load ${fake}`),
    );
    assert.equal(loadedNativeLibrary(), undefined);
  } finally {
    if (saved === undefined) delete process.env[LIBRARY_ENV];
    else process.env[LIBRARY_ENV] = saved;
  }
});
