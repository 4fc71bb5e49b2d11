// scripts/build-native.mjs and ptxas's notes of serialized wgmma instructions: reported by kernel,
// and a failed build under FMLA_STRICT_PTXAS=1, with a stand-in nvcc that prints them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { root } from './table-script.js';

const script = join(root, 'scripts', 'build-native.mjs');

const SERIALIZED_REGS =
  "ptxas info    : (C7512) Potential Performance Loss: wgmma.mma_async instructions are serialized due to insufficient register resources for the function '_Z6kernelAv'";
const SERIALIZED_ACC =
  "ptxas info    : (C7515) Potential Performance Loss: wgmma.mma_async instructions are serialized due to non wgmma instructions defining accumulator registers of a wgmma between start and end of the pipeline stage in the function '_Z6kernelBv'";
const ARRIVE_INJECTED =
  "ptxas info    : (C7519) warpgroup.arrive is injected in around line 991 by compiler to allow use of registers in GMMA in function '_Z6kernelCv'";

interface Serialization {
  code: string;
  kernel: string;
}

test('wgmmaSerializations names each serialized kernel and its note, and skips the routine ones', async () => {
  const mod = (await import(pathToFileURL(script).href)) as {
    wgmmaSerializations: (output: string) => Serialization[];
  };
  const out = [
    'ptxas info    : Used 168 registers',
    SERIALIZED_REGS,
    ARRIVE_INJECTED,
    SERIALIZED_ACC,
  ];
  assert.deepEqual(mod.wgmmaSerializations(out.join('\n')), [
    { code: 'C7512', kernel: '_Z6kernelAv' },
    { code: 'C7515', kernel: '_Z6kernelBv' },
  ]);
  assert.deepEqual(mod.wgmmaSerializations(ARRIVE_INJECTED), []);
});

/**
 * A directory holding a stand-in `nvcc`: it writes the object (or library) it is asked for, prints
 * the C7519 note for every source and the C7512 one for the e4m3 MLA instantiation.
 */
function fakeToolchain(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fmla-fake-nvcc-'));
  const nvcc = join(dir, 'nvcc');
  writeFileSync(
    nvcc,
    [
      '#!/bin/sh',
      'out=""; src=""; prev=""',
      'for a in "$@"; do',
      '  if [ "$prev" = "-o" ]; then out="$a"; fi',
      '  case "$a" in *.cu|*.cpp) src="$a";; esac',
      '  prev="$a"',
      'done',
      ': > "$out"',
      `if [ -n "$src" ]; then echo "${ARRIVE_INJECTED}" >&2; fi`,
      `case "$src" in */mla_decode_e4m3_sm90/instantiations/e4m3.cu) echo "${SERIALIZED_REGS}" >&2;; esac`,
      '',
    ].join('\n'),
  );
  chmodSync(nvcc, 0o755);
  return dir;
}

function build(toolchain: string, buildDir: string, strict: boolean) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${toolchain}:${process.env.PATH ?? ''}`,
    FMLA_BUILD_DIR: buildDir,
    FMLA_CUDA_ARCHS: '90a',
    FMLA_JOBS: '2',
  };
  if (strict) env.FMLA_STRICT_PTXAS = '1';
  else delete env.FMLA_STRICT_PTXAS;
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

test('a serialized kernel is reported by source and name; FMLA_STRICT_PTXAS=1 fails and links nothing', () => {
  const toolchain = fakeToolchain();
  const where = mkdtempSync(join(tmpdir(), 'fmla-build-'));
  const source = 'kernels/mla_decode_e4m3_sm90/instantiations/e4m3.cu';

  const loose = build(toolchain, join(where, 'loose'), false);
  assert.equal(loose.code, 0, loose.out);
  assert.match(loose.out, /ptxas serialized the wgmma instructions of 1 kernel\(s\)/);
  assert.ok(loose.out.includes(`${source}: C7512 _Z6kernelAv`), loose.out);
  assert.ok(!loose.out.includes('C7519'), 'the routine notes are not shown');
  assert.ok(existsSync(join(where, 'loose', 'libflashmla.so')));

  const strict = build(toolchain, join(where, 'strict'), true);
  assert.equal(strict.code, 1, strict.out);
  assert.ok(strict.out.includes(`${source}: C7512 _Z6kernelAv`), strict.out);
  assert.match(strict.out, /FMLA_STRICT_PTXAS=1, nothing linked/);
  assert.ok(!existsSync(join(where, 'strict', 'libflashmla.so')), 'no library from a failed build');
  // Its object is gone, so that the next build compiles it, and reports it, again.
  assert.ok(!existsSync(join(where, 'strict', 'obj', source.replace(/\.cu$/, '.o'))));
  assert.ok(
    existsSync(join(where, 'strict', 'obj', 'kernels/mla_decode_e4m3_sm90/instantiations/bf16.o')),
  );
});
