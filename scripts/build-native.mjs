#!/usr/bin/env node
// Builds build/libflashmla.so from csrc/: every .cu / .cpp compiled in parallel to build/obj/, then
// linked with the CUDA runtime static. Plain Node, no dependencies.
//
//   node scripts/build-native.mjs            incremental build
//   node scripts/build-native.mjs --clean    rebuild everything
//   node scripts/build-native.mjs --print-commands   the nvcc commands as JSON, nothing built
// Environment: CUDA_HOME (where nvcc lives if not on PATH), FMLA_CUDA_ARCHS (default "90a,80":
// comma-separated compute capabilities to generate machine code for; an entry "<cc>ptx", e.g.
// "80ptx", embeds PTX for compute_<cc> instead, which the driver compiles for the GPU at load time),
// FMLA_BUILD_DIR (default "build", relative to the package root: the library and obj/ go there),
// FMLA_JOBS (parallel compiles), FMLA_STRICT_PTXAS=1 (fail, and link nothing, where ptxas serialized
// a kernel's wgmma instructions; CI builds so). A change of FMLA_CUDA_ARCHS rebuilds everything in
// that folder.
// `npm pack` builds the library the package carries through it (scripts/build-prebuilt.mjs).
//
// The sm_80 path on an sm_90 GPU: a library that carries only compute_80 PTX, built apart from the
// usual one, runs nothing but the code compiled for sm_80 (the driver's JIT compiles it for the GPU):
//   FMLA_CUDA_ARCHS=80ptx FMLA_BUILD_DIR=build/sm80-ptx node scripts/build-native.mjs
//   -> build/sm80-ptx/libflashmla.so (test/gpu/run-sm80-ptx.sh runs the GPU tests against it)

import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const csrc = join(root, 'csrc');
const buildDir = resolve(root, process.env.FMLA_BUILD_DIR || 'build');
const objDir = join(buildDir, 'obj');
const library = join(buildDir, 'libflashmla.so');
// The code-generation flags of the objects in objDir, to rebuild them all when those change.
const archStamp = join(objDir, 'archs.txt');

export function findNvcc() {
  const candidates = [];
  for (const dir of (process.env.PATH ?? '').split(':'))
    if (dir) candidates.push(join(dir, 'nvcc'));
  if (process.env.CUDA_HOME) candidates.push(join(process.env.CUDA_HOME, 'bin', 'nvcc'));
  if (process.env.CUDA_PATH) candidates.push(join(process.env.CUDA_PATH, 'bin', 'nvcc'));
  candidates.push('/usr/local/cuda/bin/nvcc');
  return candidates.find((c) => existsSync(c));
}

function walk(dir, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else out.push(path);
  }
  return out;
}

// "90a" -> machine code for sm_90a; "80ptx" -> PTX for compute_80 only, compiled by the driver.
export function gencodeFlags(archs) {
  return archs.flatMap((a) => {
    const ptx = /^(\d+[a-z]?)ptx$/.exec(a);
    const target = ptx
      ? `arch=compute_${ptx[1]},code=compute_${ptx[1]}`
      : `arch=compute_${a},code=sm_${a}`;
    return ['-gencode', target];
  });
}

// ptxas's notes that it serialized a kernel's wgmma instructions (too few registers, accumulators
// written mid-pipeline, ...): the kernel stays correct, but its matrix products no longer overlap,
// an MLA decode up to 30% slower (bench/NOTES.md, v48). Nothing else says so. [{ code, kernel }].
export function wgmmaSerializations(output) {
  const re =
    /\((C\d+)\) Potential Performance Loss: wgmma\.mma_async instructions are serialized[^']*'([^']+)'/g;
  return [...output.matchAll(re)].map((m) => ({ code: m[1], kernel: m[2] }));
}

// A compiler's output as shown: without ptxas's routine notes of the warpgroup.arrive it inserts
// (C7519, hundreds a build), so that the notes that matter stand out.
function shownOutput(output) {
  return output
    .split('\n')
    .filter((line) => !/\(C7519\) warpgroup\.arrive is injected/.test(line))
    .join('\n')
    .trim();
}

function run(command, args) {
  return new Promise((resolvePromise) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolvePromise({ code, output }));
    child.on('error', (err) => resolvePromise({ code: 1, output: String(err) }));
  });
}

async function main() {
  const nvcc = findNvcc();
  if (!nvcc) {
    console.error(
      'build-native: nvcc not found (looked on PATH, in $CUDA_HOME/bin and /usr/local/cuda/bin).\n' +
        'Install the CUDA toolkit (12.4 or newer) or set CUDA_HOME; the CPU backend works without it.',
    );
    process.exit(1);
  }
  const printOnly = process.argv.includes('--print-commands');
  if (process.argv.includes('--clean') && !printOnly)
    rmSync(objDir, { recursive: true, force: true });
  const archs = (process.env.FMLA_CUDA_ARCHS ?? '90a,80')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  const gencode = gencodeFlags(archs);
  const archsChanged =
    !existsSync(archStamp) || readFileSync(archStamp, 'utf8') !== gencode.join(' ');
  const files = walk(csrc);
  const sources = files.filter((f) => f.endsWith('.cu') || f.endsWith('.cpp'));
  // Any header change rebuilds everything: simpler than tracking includes, and the build is short.
  const newestHeader = Math.max(
    0,
    ...files.filter((f) => /\.(h|cuh)$/.test(f)).map((f) => statSync(f).mtimeMs),
  );
  const common = ['-O3', '-std=c++17', '-Xcompiler', '-fPIC', '-Xcompiler', '-fvisibility=hidden'];
  const jobs = [];
  for (const source of sources) {
    const rel = relative(csrc, source);
    const object = join(objDir, rel.replace(/\.(cu|cpp)$/, '.o'));
    const stale =
      archsChanged ||
      !existsSync(object) ||
      statSync(object).mtimeMs < Math.max(statSync(source).mtimeMs, newestHeader);
    jobs.push({ rel, source, object, stale });
  }
  const compileArgs = (job) => [...common, ...gencode, '-c', job.source, '-o', job.object];
  const linkArgs = [
    '-shared',
    '-cudart',
    'static',
    ...gencode,
    '-o',
    library,
    ...jobs.map((j) => j.object),
  ];
  if (printOnly) {
    const compile = jobs.map((j) => ({ source: j.source, args: compileArgs(j) }));
    console.log(JSON.stringify({ nvcc, compile, link: linkArgs }, null, 2));
    return;
  }
  const todo = jobs.filter((j) => j.stale);
  const parallel = Number(process.env.FMLA_JOBS) || cpus().length;
  console.log(
    `build-native: ${nvcc}, sm ${archs.join(', ')}; ${todo.length} of ${jobs.length} sources to compile, ${parallel} at a time`,
  );
  // Until every object is rebuilt for the new archs, none of them counts as built for either.
  if (archsChanged) rmSync(archStamp, { force: true });
  const strictPtxas = process.env.FMLA_STRICT_PTXAS === '1';
  const serialized = [];
  let next = 0;
  let failed = false;
  let done = 0;
  const started = Date.now();
  async function worker() {
    while (next < todo.length && !failed) {
      const job = todo[next++];
      mkdirSync(dirname(job.object), { recursive: true });
      const { code, output } = await run(nvcc, compileArgs(job));
      done += 1;
      if (code !== 0) {
        failed = true;
        console.error(`build-native: FAILED ${job.rel}\n${output}`);
        rmSync(job.object, { force: true });
      } else {
        console.log(`  [${done}/${todo.length}] ${job.rel}`);
        const shown = shownOutput(output);
        if (shown) console.log(shown);
        const found = wgmmaSerializations(output);
        serialized.push(...found.map((f) => ({ ...f, rel: job.rel })));
        // Compiled again next time, so that the note is not lost with a failed strict build.
        if (found.length > 0 && strictPtxas) rmSync(job.object, { force: true });
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
  if (failed) process.exit(1);
  if (serialized.length > 0) {
    const message =
      `build-native: ptxas serialized the wgmma instructions of ${serialized.length} kernel(s); ` +
      'they run correctly, but their matrix products no longer overlap:\n' +
      serialized.map((s) => `  ${s.rel}: ${s.code} ${s.kernel}`).join('\n');
    if (strictPtxas) {
      console.error(`${message}\nbuild-native: FMLA_STRICT_PTXAS=1, nothing linked`);
      process.exit(1);
    }
    console.warn(message);
  }
  mkdirSync(objDir, { recursive: true });
  writeFileSync(archStamp, gencode.join(' '));
  const { code, output } = await run(nvcc, linkArgs);
  if (code !== 0) {
    console.error(`build-native: link FAILED\n${output}`);
    process.exit(1);
  }
  console.log(
    `build-native: ${relative(root, library)} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
}

// Imported (scripts/build-prebuilt.mjs takes findNvcc and gencodeFlags), it builds nothing.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
