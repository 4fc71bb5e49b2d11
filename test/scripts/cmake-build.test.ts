// CMakeLists.txt against scripts/build-native.mjs: the same sources compiled with the same nvcc
// flags, for the default architectures and others; then a build for one architecture (to keep CI
// short), installed into a temporary prefix, that a C++ project finds with find_package and links.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findNvcc, hasCmake, NVCC_PLACES } from './toolchain.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const VERSION = (
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
).version;

const skip = !hasCmake()
  ? 'cmake is not installed'
  : !findNvcc()
    ? `nvcc is not installed (looked at ${NVCC_PLACES})`
    : false;

const work = skip ? '' : mkdtempSync(join(tmpdir(), 'fmla-cmake-'));
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The environment without the variables that would steer either build. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const name of ['FMLA_CUDA_ARCHS', 'CUDAFLAGS', 'CMAKE_BUILD_TYPE', 'CMAKE_GENERATOR']) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

function run(command: string, args: string[], options: SpawnSyncOptions = {}): string {
  const r = spawnSync(command, args, { encoding: 'utf8', env: cleanEnv(), ...options });
  assert.equal(r.status, 0, `${command} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return String(r.stdout);
}

/** Words of a shell command line as CMake writes them (double quotes, backslash escapes). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (c === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (/\s/.test(c) && !quoted) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** The flags of one compile, without the source, the object and what only says "compile". */
function flagsOf(args: string[], source: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-o') i++;
    else if (args[i] === '-x' && args[i + 1] === 'cu') i++;
    else if (args[i] !== '-c' && args[i] !== source) out.push(args[i]);
  }
  return out;
}

/** Source (relative to the root) -> flags, as build-native.mjs would compile them. */
function buildNativePlan(archs: string | undefined): Map<string, string[]> {
  const env = cleanEnv({ FMLA_BUILD_DIR: join(work, 'npm-build') });
  if (archs !== undefined) env.FMLA_CUDA_ARCHS = archs;
  const script = join(root, 'scripts', 'build-native.mjs');
  const stdout = run(process.execPath, [script, '--print-commands'], { env });
  const plan = JSON.parse(stdout) as {
    compile: { source: string; args: string[] }[];
    link: string[];
  };
  assert.deepEqual(plan.link.slice(0, 3), ['-shared', '-cudart', 'static']);
  return new Map(plan.compile.map((c) => [relative(root, c.source), flagsOf(c.args, c.source)]));
}

/** Source (relative to the root) -> flags, from the configured CMake build's compile commands. */
function cmakePlan(buildDir: string): Map<string, string[]> {
  const commands = JSON.parse(readFileSync(join(buildDir, 'compile_commands.json'), 'utf8')) as {
    file: string;
    command?: string;
    arguments?: string[];
  }[];
  return new Map(
    commands.map((c) => {
      const args = (c.arguments ?? shellWords(c.command ?? '')).slice(1);
      // CMake's own: hands flags nvcc does not know to the host compiler (there are none here).
      const flags = flagsOf(args, c.file).filter((a) => a !== '-forward-unknown-to-host-compiler');
      return [relative(root, c.file), flags];
    }),
  );
}

const buildDir = join(work, 'cmake-build');
const prefix = join(work, 'prefix');

function configure(...defines: string[]): void {
  run('cmake', ['-S', root, '-B', buildDir, '-G', 'Unix Makefiles', ...defines]);
}

test(
  'CMake compiles the sources of build-native.mjs with its flags, for each architecture setting',
  { skip },
  () => {
    // Default first: the cache then holds CMakeLists.txt's default, not one given here.
    const settings: (string | undefined)[] = [undefined, '80ptx', '90a, 80ptx'];
    for (const archs of settings) {
      const define = archs === undefined ? [] : [`-DFMLA_CUDA_ARCHS=${archs}`];
      configure('-DCMAKE_EXPORT_COMPILE_COMMANDS=ON', ...define);
      const expected = buildNativePlan(archs);
      const actual = cmakePlan(buildDir);
      assert.ok(expected.size > 10, `build-native compiles ${expected.size} sources`);
      assert.deepEqual(
        [...actual.keys()].sort(),
        [...expected.keys()].sort(),
        `sources, archs ${archs ?? 'default'}`,
      );
      for (const [source, flags] of expected) {
        assert.deepEqual(actual.get(source), flags, `${source}, archs ${archs ?? 'default'}`);
      }
    }
  },
);

test(
  'the one-architecture build installs the library, the public header and a package config',
  { skip },
  () => {
    configure('-DFMLA_CUDA_ARCHS=80');
    run('cmake', ['--build', buildDir, '--parallel', '2']);
    run('cmake', ['--install', buildDir, '--prefix', prefix]);
    assert.ok(existsSync(join(prefix, 'include', 'flash_mla.h')));
    assert.ok(!existsSync(join(prefix, 'include', 'flash_mla_testing.h')));
    const libdir = ['lib', 'lib64']
      .map((d) => join(prefix, d))
      .find((d) => existsSync(join(d, 'libflashmla.so')));
    assert.ok(libdir, 'libflashmla.so in lib/ or lib64/');
    for (const f of ['flash-mla-ts-config.cmake', 'flash-mla-ts-config-version.cmake']) {
      assert.ok(existsSync(join(libdir, 'cmake', 'flash-mla-ts', f)), f);
    }
    const library = join(libdir, 'libflashmla.so');
    // The CUDA runtime is linked in, as build-native links it: nothing to find at load time.
    const needed = run('readelf', ['-d', library]);
    assert.doesNotMatch(needed, /NEEDED.*libcudart/);
    // Hidden visibility: only the C ABI is exported.
    const exported = run('nm', ['-D', '--defined-only', library])
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[2])
      .filter(Boolean);
    const header = readFileSync(join(root, 'csrc', 'include', 'flash_mla.h'), 'utf8');
    const declared = [...header.matchAll(/^FMLA_API [^(]*?\b(fmla_\w+)\(/gm)].map((m) => m[1]);
    assert.ok(declared.length > 20, `${declared.length} functions declared`);
    for (const name of declared) assert.ok(exported.includes(name), `${name} is exported`);
    assert.deepEqual(
      exported.filter((n) => !n.startsWith('fmla_')),
      [],
      'no symbol besides the C ABI',
    );
  },
);

test('a C++ project finds the installed package and links flashmla::flashmla', { skip }, () => {
  const project = join(work, 'consumer');
  mkdirSync(project);
  writeFileSync(
    join(project, 'CMakeLists.txt'),
    [
      'cmake_minimum_required(VERSION 3.18)',
      'project(consumer LANGUAGES CXX)',
      `find_package(flash-mla-ts ${VERSION} CONFIG REQUIRED)`,
      'add_executable(consumer main.cpp)',
      'target_link_libraries(consumer PRIVATE flashmla::flashmla)',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(project, 'main.cpp'),
    [
      '#include <cstdio>',
      '#include "flash_mla.h"',
      // Pure helpers: they run without a GPU.
      'int main() { std::printf("%s %s\\n", fmla_version(), fmla_status_string(FMLA_OK)); }',
      '',
    ].join('\n'),
  );
  const out = join(project, 'build');
  run('cmake', ['-S', project, '-B', out, `-DCMAKE_PREFIX_PATH=${prefix}`]);
  run('cmake', ['--build', out]);
  assert.match(
    run(join(out, 'consumer'), []),
    new RegExp(`^${VERSION.replace(/\./g, '\\.')} FMLA_OK\n$`),
  );
});
