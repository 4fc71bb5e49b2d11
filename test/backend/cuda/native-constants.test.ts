// The enum values the koffi binding passes (native-api.ts) are those of csrc/include/flash_mla.h, and
// so are the Python binding's: one table each, checked here against the header's text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../../src/package-root.js';
import { NATIVE_DTYPE, NATIVE_KV_FORMAT } from '../../../src/backend/cuda/native-api.js';

const header = readFileSync(join(packageRoot(), 'csrc', 'include', 'flash_mla.h'), 'utf8');

/** `NAME -> value` for every enumerator written `NAME = <integer>` in the header. */
const enumerators = new Map(
  [...header.matchAll(/^\s*(FMLA_\w+)\s*=\s*(\d+)\s*,?/gm)].map((m) => [m[1], Number(m[2])]),
);

test('NATIVE_DTYPE matches fmla_dtype', () => {
  const names: Record<keyof typeof NATIVE_DTYPE, string> = {
    float32: 'FMLA_DTYPE_FLOAT32',
    bfloat16: 'FMLA_DTYPE_BFLOAT16',
    float16: 'FMLA_DTYPE_FLOAT16',
    float8_e4m3fn: 'FMLA_DTYPE_FLOAT8_E4M3FN',
    int32: 'FMLA_DTYPE_INT32',
  };
  for (const [dtype, name] of Object.entries(names)) {
    assert.equal(NATIVE_DTYPE[dtype as keyof typeof NATIVE_DTYPE], enumerators.get(name), name);
  }
});

test('NATIVE_KV_FORMAT matches fmla_kv_format, and Python uses the same values', () => {
  assert.equal(NATIVE_KV_FORMAT.fp8_ds_mla, enumerators.get('FMLA_KV_FORMAT_FP8_DS_MLA'));
  assert.equal(NATIVE_KV_FORMAT.fp8_e4m3, enumerators.get('FMLA_KV_FORMAT_FP8_E4M3'));
  const python = readFileSync(
    join(packageRoot(), 'python', 'flash_mla_ts', 'attention.py'),
    'utf8',
  );
  assert.match(python, new RegExp(`^_FP8_DS_MLA = ${NATIVE_KV_FORMAT.fp8_ds_mla}$`, 'm'));
  assert.match(python, new RegExp(`^_FP8_E4M3 = ${NATIVE_KV_FORMAT.fp8_e4m3}$`, 'm'));
});
