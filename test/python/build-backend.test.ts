// python/build_backend.py, offline as the GPU machines run it: without nvcc a wheel build fails and
// says what to do; FLASH_MLA_TS_PURE_PYTHON=1 makes a wheel of the Python package alone; with nvcc
// and CMake, `pip install --no-build-isolation ./python` builds libflashmla.so into the wheel. Run
// with each Python found that has setuptools, since one may write wheels through setuptools and
// another through the backend's own writer.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findNvcc, hasCmake, NVCC_PLACES } from '../scripts/toolchain.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const pythonDir = join(root, 'python');
const VERSION = (
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
).version;

interface Python {
  executable: string;
  /** How it writes wheels: "setuptools" or "own writer" (build_backend's fallback). */
  writer: string;
  hasPip: boolean;
}

function findPythons(): Python[] {
  const found: Python[] = [];
  for (const candidate of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(
      candidate,
      [
        '-c',
        'import sys, build_backend; print(sys.executable); print(build_backend._setuptools_writes_wheels())',
      ],
      { cwd: pythonDir, encoding: 'utf8' },
    );
    if (r.status !== 0) continue;
    const [executable, setuptoolsWrites] = r.stdout.trim().split('\n');
    if (found.some((p) => p.executable === executable)) continue;
    const pip = spawnSync(executable, ['-m', 'pip', '--version']);
    found.push({
      executable,
      writer: setuptoolsWrites === 'True' ? 'setuptools' : 'own writer',
      hasPip: pip.status === 0,
    });
  }
  return found;
}

const pythons = findPythons();
const noPython = pythons.length === 0 ? 'no python3 with setuptools' : false;
const work = mkdtempSync(join(tmpdir(), 'fmla-wheel-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** The environment with no nvcc to find (PATH without it, no CUDA_HOME) and nothing preset. */
function envWithoutNvcc(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const unset = [
    'CUDA_HOME',
    'CUDA_PATH',
    'CUDACXX',
    'FLASH_MLA_LIBRARY',
    'FLASH_MLA_TS_PURE_PYTHON',
  ];
  for (const name of unset) delete env[name];
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((d) => d && !existsSync(join(d, 'nvcc')))
    .join(delimiter);
  return { ...env, ...extra };
}

/** Calls build_backend.build_wheel as pip would, with /usr/local/cuda out of the search too. */
function buildWheel(python: Python, out: string, env: NodeJS.ProcessEnv) {
  const script = [
    'import sys, native_build, build_backend',
    'native_build.DEFAULT_CUDA_DIRS = ()',
    'print(build_backend.build_wheel(sys.argv[1]))',
  ].join('\n');
  mkdirSync(out, { recursive: true });
  return spawnSync(python.executable, ['-c', script, out], {
    cwd: pythonDir,
    encoding: 'utf8',
    env,
  });
}

function wheelFiles(wheel: string, python: Python): string[] {
  const script = 'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))';
  const r = spawnSync(python.executable, ['-c', script, wheel], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n');
}

const noNativeBuild = !findNvcc()
  ? `nvcc is not installed (looked at ${NVCC_PLACES})`
  : !hasCmake()
    ? 'cmake is not installed'
    : false;

/** pip install --no-build-isolation ./python into `site`, offline, as the GPU machines run it. */
function pipInstall(python: Python, site: string, env: NodeJS.ProcessEnv) {
  const args = ['-m', 'pip', 'install', '--no-build-isolation', '--no-index', '--no-deps'];
  args.push('--no-cache-dir', '--disable-pip-version-check', '--target', site, pythonDir);
  return spawnSync(python.executable, args, { cwd: work, encoding: 'utf8', env });
}

for (const [i, python] of pythons.entries()) {
  const label = `${python.executable}, ${python.writer}`;
  const noPip = python.hasPip ? false : `pip is not installed for ${python.executable}`;

  test(
    `pip install builds the library into the wheel (${label})`,
    { skip: noPip || noNativeBuild },
    () => {
      const site = join(work, `site-${i}`);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        // One architecture keeps it short; every Python shares the build, so only the first compiles.
        FMLA_CUDA_ARCHS: '80',
        FMLA_BUILD_DIR: join(work, 'native'),
      };
      const unset = ['FLASH_MLA_TS_PURE_PYTHON', 'FLASH_MLA_LIBRARY', 'CMAKE_BUILD_TYPE'];
      for (const name of unset) delete env[name];
      const r = pipInstall(python, site, env);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      const bundled = join(site, 'flash_mla_ts', 'libflashmla.so');
      assert.ok(existsSync(bundled), 'the installed package carries libflashmla.so');
      // The package finds the copy it carries, and it loads.
      const script =
        'import flash_mla_ts as f; print(f.find_library()); print(f.library_version())';
      const check = spawnSync(python.executable, ['-c', script], {
        cwd: work,
        encoding: 'utf8',
        env: { ...env, PYTHONPATH: site },
      });
      assert.equal(check.status, 0, check.stderr);
      assert.deepEqual(check.stdout.trim().split('\n'), [bundled, VERSION]);
    },
  );

  test(`without nvcc pip install fails and says what to do (${label})`, { skip: noPip }, () => {
    const env = envWithoutNvcc({ CUDACXX: join(work, 'no-such-nvcc') });
    const r = pipInstall(python, join(work, `site-none-${i}`), env);
    assert.notEqual(r.status, 0, 'pip failed');
    assert.match(
      r.stdout + r.stderr,
      /cannot build libflashmla\.so: \$CUDACXX=\S+ is not an executable/,
    );
    assert.match(r.stdout + r.stderr, /FLASH_MLA_TS_PURE_PYTHON=1/);
  });

  test(`without nvcc the wheel build fails and says what to do (${label})`, () => {
    const out = join(work, `no-nvcc-${i}`);
    const r = buildWheel(python, out, envWithoutNvcc());
    assert.notEqual(r.status, 0, 'the build failed');
    assert.match(
      r.stderr,
      /NativeBuildError: flash_mla_ts: cannot build libflashmla\.so: nvcc was not found/,
    );
    assert.match(r.stderr, /Install the CUDA toolkit/);
    assert.match(r.stderr, /FLASH_MLA_TS_PURE_PYTHON=1/);
    assert.deepEqual(readdirSync(out), [], 'no wheel written');
  });

  // After a pip build through setuptools, its build/lib holds a library: it must not ship here.
  test(`FLASH_MLA_TS_PURE_PYTHON=1 makes a wheel of the Python package alone (${label})`, () => {
    const out = join(work, `pure-${i}`);
    const r = buildWheel(python, out, envWithoutNvcc({ FLASH_MLA_TS_PURE_PYTHON: '1' }));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const wheel = r.stdout.trim().split('\n').pop() ?? '';
    assert.match(wheel, /^flash_mla_ts-[\d.]+-py3-none-any\.whl$/);
    const files = wheelFiles(join(out, wheel), python);
    assert.ok(files.includes('flash_mla_ts/__init__.py'), files.join(', '));
    assert.deepEqual(
      files.filter((f) => f.endsWith('.so')),
      [],
    );
  });
}

test('a Python with setuptools is there to run the tests above', { skip: noPython }, () => {});
