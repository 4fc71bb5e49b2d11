#!/usr/bin/env node
// Run by `npm pack` and `npm publish` (the prepack script): builds the native library the package
// carries, prebuilds/linux-x64/libflashmla.so (prebuildify's prebuilds/<platform>-<arch>/ layout),
// with sm_90a and sm_80 machine code and the CUDA runtime linked statically, so that installing the
// package on a GPU machine without nvcc runs the CUDA backend.
//
// Without nvcc, or on another platform than linux-x64, the pack fails rather than ship without the
// library, unless FLASH_MLA_TS_PACK_WITHOUT_LIBRARY=1 asks for a CPU-only package; then a library
// left by an earlier pack is removed, so that it is not shipped either.
//
// The build goes to build/prebuild/linux-x64/ (build/libflashmla.so is `npm run build:native`'s and
// stays as it is), starting from the objects in build/obj when they were compiled for the same
// architectures, so that a pack after `npm run build:native` only links.
// All output goes to stderr: `npm pack --json` prints its report on stdout.

import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  utimesSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNvcc, gencodeFlags } from './build-native.mjs';

const WITHOUT_LIBRARY_ENV = 'FLASH_MLA_TS_PACK_WITHOUT_LIBRARY';
const TARGET = 'linux-x64';
const ARCHS = '90a,80';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const prebuiltDir = join(root, 'prebuilds', TARGET);
const prebuilt = join(prebuiltDir, 'libflashmla.so');
const buildDir = join(root, 'build', 'prebuild', TARGET);

const log = (line) => process.stderr.write(`build-prebuilt: ${line}\n`);

function fail(why) {
  log(
    `${why}\nThe package would ship without prebuilds/${TARGET}/libflashmla.so, and installs without ` +
      `nvcc would have no CUDA backend. Set ${WITHOUT_LIBRARY_ENV}=1 to pack a CPU-only package.`,
  );
  process.exit(1);
}

const truthy = (value) => ['1', 'true', 'yes', 'on'].includes((value ?? '').trim().toLowerCase());

function removeIfEmpty(dir) {
  if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
}

/** Copies build/obj's objects that are newer than ours (times kept, so staleness still shows). */
function seedObjects(gencode) {
  const from = join(root, 'build', 'obj');
  const to = join(buildDir, 'obj');
  const stamp = (dir) => {
    const path = join(dir, 'archs.txt');
    return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  };
  if (stamp(from) !== gencode) return 0;
  // Objects here without a matching stamp may be for other archs: start again from build/obj's.
  if (stamp(to) !== gencode) rmSync(to, { recursive: true, force: true });
  let copied = 0;
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const source = join(dir, entry.name);
      if (entry.isDirectory()) walk(source);
      else if (entry.name.endsWith('.o')) {
        const target = join(to, relative(from, source));
        const { atime, mtime } = statSync(source);
        if (existsSync(target) && statSync(target).mtimeMs >= mtime.getTime()) continue;
        mkdirSync(dirname(target), { recursive: true });
        copyFileSync(source, target);
        utimesSync(target, atime, mtime);
        copied += 1;
      }
    }
  };
  walk(from);
  // Every object there is now built for these archs, by either build.
  if (stamp(to) !== gencode) {
    mkdirSync(to, { recursive: true });
    copyFileSync(join(from, 'archs.txt'), join(to, 'archs.txt'));
  }
  return copied;
}

function nvccRelease(nvcc) {
  const out = spawnSync(nvcc, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /release (\d+\.\d+)/.exec(out)?.[1] ?? 'unknown';
}

async function main() {
  if (truthy(process.env[WITHOUT_LIBRARY_ENV])) {
    if (existsSync(prebuilt)) {
      rmSync(prebuilt);
      log(`removed ${relative(root, prebuilt)}, left by an earlier pack`);
    }
    removeIfEmpty(prebuiltDir);
    removeIfEmpty(dirname(prebuiltDir));
    log(`${WITHOUT_LIBRARY_ENV} is set: packing without the native library (CPU backend only)`);
    return;
  }
  const here = `${process.platform}-${process.arch}`;
  if (here !== TARGET) fail(`this machine is ${here}; the packed library is built on ${TARGET}.`);
  const nvcc = findNvcc();
  if (!nvcc) {
    fail(
      'nvcc not found (looked on PATH, in $CUDA_HOME/bin, $CUDA_PATH/bin and /usr/local/cuda/bin); ' +
        'install the CUDA toolkit (12.4 or newer) or set CUDA_HOME.',
    );
  }
  const gencode = gencodeFlags(ARCHS.split(',')).join(' ');
  const seeded = seedObjects(gencode);
  if (seeded > 0) log(`${seeded} objects taken from build/obj`);
  const env = { ...process.env, FMLA_CUDA_ARCHS: ARCHS, FMLA_BUILD_DIR: buildDir };
  const script = join(root, 'scripts', 'build-native.mjs');
  const code = await new Promise((done) => {
    const child = spawn(process.execPath, [script], { cwd: root, env, stdio: ['ignore', 2, 2] });
    child.on('close', done);
    child.on('error', () => done(1));
  });
  if (code !== 0) fail('the native build failed (above).');
  // Renamed into place, so that a reader never sees half a library.
  mkdirSync(prebuiltDir, { recursive: true });
  const partial = `${prebuilt}.partial`;
  copyFileSync(join(buildDir, 'libflashmla.so'), partial);
  renameSync(partial, prebuilt);
  const mib = (statSync(prebuilt).size / 2 ** 20).toFixed(1);
  log(
    `${relative(root, prebuilt)} (sm ${ARCHS.split(',').join(', ')}, CUDA ${nvccRelease(nvcc)} ` +
      `runtime linked statically, ${mib} MiB)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
