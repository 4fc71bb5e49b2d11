import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIBRARY_ENV, prebuiltLibraryDir } from '../../src/backend/cuda/library-path.js';
import { findNvcc, NVCC_PLACES } from '../scripts/toolchain.js';

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

// ---------------------------------------------------------------------------------------------
// The prebuilt library: `npm pack` runs the manifest's prepack script, which builds
// prebuilds/linux-x64/libflashmla.so. Packed here from a copy of the packing inputs (the manifest
// with its prepack script alone, scripts/, csrc/), so that neither `prepare` (which rebuilds dist/
// under the running tests) nor the pack touches this tree. The copy's build/prebuild is this tree's,
// so that the objects compiled once serve every later run, and build/obj seeds it.

const PREBUILT = 'prebuilds/linux-x64/libflashmla.so';
const WITHOUT_LIBRARY_ENV = 'FLASH_MLA_TS_PACK_WITHOUT_LIBRARY';
const nvcc = findNvcc();
const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';

const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'fmla-pack-')));
after(() => rmSync(scratch, { recursive: true, force: true }));

let copies = 0;
function packingCopy(): string {
  const dir = join(scratch, `copy-${copies++}`);
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  manifest.scripts = { prepack: manifest.scripts.prepack };
  mkdirSync(join(dir, 'build'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  for (const folder of ['scripts', 'csrc']) {
    cpSync(join(ROOT, folder), join(dir, folder), { recursive: true, preserveTimestamps: true });
  }
  mkdirSync(join(ROOT, 'build', 'prebuild'), { recursive: true });
  symlinkSync(join(ROOT, 'build', 'prebuild'), join(dir, 'build', 'prebuild'));
  if (existsSync(join(ROOT, 'build', 'obj'))) {
    symlinkSync(join(ROOT, 'build', 'obj'), join(dir, 'build', 'obj'));
  }
  return dir;
}

function npmPack(dir: string, env: NodeJS.ProcessEnv, ...args: string[]) {
  const r = spawnSync('npm', ['pack', '--json', ...args], {
    cwd: dir,
    env,
    encoding: 'utf8',
    timeout: 600_000,
  });
  const files =
    r.status === 0
      ? (JSON.parse(r.stdout) as { files: { path: string }[]; filename: string }[])[0]
      : undefined;
  return { status: r.status, stderr: r.stderr, pack: files };
}

const envWithout = (...names: string[]): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  for (const name of names) delete env[name];
  return env;
};

test(
  'the tarball carries prebuilds/linux-x64/libflashmla.so for sm_90a and sm_80, and it loads once installed',
  { skip: !nvcc ? `nvcc not found (${NVCC_PLACES})` : !onLinuxX64 && 'packs on linux-x64 only' },
  () => {
    const dir = packingCopy();
    const out = join(scratch, 'tarballs');
    mkdirSync(out, { recursive: true });
    const env = envWithout(WITHOUT_LIBRARY_ENV, 'FMLA_CUDA_ARCHS', 'FMLA_BUILD_DIR', LIBRARY_ENV);
    const { status, stderr, pack } = npmPack(dir, env, '--pack-destination', out);
    assert.equal(status, 0, stderr);
    assert.ok(pack, stderr);
    assert.ok(
      pack.files.some((f) => f.path === PREBUILT),
      `${PREBUILT} is packed: ${stderr}`,
    );
    assert.equal(`${prebuiltLibraryDir('linux', 'x64')}/libflashmla.so`, PREBUILT);
    const stamp = readFileSync(join(ROOT, 'build/prebuild/linux-x64/obj/archs.txt'), 'utf8');
    assert.equal(
      stamp,
      '-gencode arch=compute_90a,code=sm_90a -gencode arch=compute_80,code=sm_80',
    );

    // Installed: the tarball unpacked beside the compiled code and the dependencies.
    const installed = join(scratch, 'installed');
    mkdirSync(installed);
    execFileSync('tar', ['-xzf', join(out, pack.filename), '-C', installed]);
    const root = join(installed, 'package');
    const library = join(root, PREBUILT);
    assert.deepEqual([...readFileSync(library).subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
    const needed = spawnSync('readelf', ['-d', library], { encoding: 'utf8' });
    if (needed.status === 0) assert.doesNotMatch(needed.stdout, /libcudart/);
    cpSync(join(ROOT, 'dist/src'), join(root, 'dist/src'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
    const info = JSON.parse(
      execFileSync(process.execPath, [join(root, MANIFEST.bin['flash-mla']), 'info', '--json'], {
        encoding: 'utf8',
        env,
      }),
    ) as { backends: { name: string; detail: string; library?: Record<string, unknown> }[] };
    const cuda = info.backends.find((b) => b.name === 'cuda');
    assert.equal(cuda?.library?.path, library);
    assert.equal(cuda?.library?.place, 'prebuilt');
    // Loaded: a machine without a GPU or driver says so, not that the library cannot load.
    assert.doesNotMatch(cuda?.detail ?? '', /cannot load|crashed|failed \(exit code/);
  },
);

test('FLASH_MLA_TS_PACK_WITHOUT_LIBRARY=1 packs a CPU-only package, without a stale library', () => {
  const dir = packingCopy();
  mkdirSync(join(dir, 'prebuilds/linux-x64'), { recursive: true });
  writeFileSync(join(dir, PREBUILT), 'left by an earlier pack');
  const env = { ...envWithout(), [WITHOUT_LIBRARY_ENV]: '1' };
  const { status, stderr, pack } = npmPack(dir, env, '--dry-run');
  assert.equal(status, 0, stderr);
  assert.deepEqual(
    pack?.files.filter((f) => f.path.startsWith('prebuilds/')),
    [],
  );
  assert.ok(!existsSync(join(dir, 'prebuilds')), 'the stale library and its folders are removed');
  assert.match(stderr, /packing without the native library/);
});

test(
  'without nvcc the pack fails and says how to pack without the library',
  { skip: nvcc && onLinuxX64 && `nvcc is here (${nvcc})` },
  () => {
    const dir = packingCopy();
    const { status, stderr } = npmPack(dir, envWithout(WITHOUT_LIBRARY_ENV), '--dry-run');
    assert.notEqual(status, 0);
    assert.match(stderr, onLinuxX64 ? /nvcc not found/ : /packed library is built on linux-x64/);
    assert.match(stderr, /Set FLASH_MLA_TS_PACK_WITHOUT_LIBRARY=1 to pack a CPU-only package/);
  },
);
