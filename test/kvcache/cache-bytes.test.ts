// PagedKvCache's statistics in bytes (PagedKvCacheOptions.tokenBytes) and kvTokenBytes, the bytes a
// token takes in each cache format: bf16, fp8_ds_mla (MLA), fp8_e4m3 (GQA).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError } from '../../src/errors.js';
import { DS_MLA_TOKEN_BYTES } from '../../src/fp8/ds-mla-token.js';
import { PagedKvCache } from '../../src/kvcache/paged-kv-cache.js';
import { kvTokenBytes } from '../../src/simulate/kv-token-bytes.js';
import { DEEPSEEK_V3, LLAMA_3_8B } from '../../src/simulate/model-layouts.js';

test('kvTokenBytes: bf16 and the FP8 format of each kind, over every layer', () => {
  const mla = DEEPSEEK_V3.kv!;
  const gqa = LLAMA_3_8B.kv!;
  assert.equal(kvTokenBytes(mla, 'bf16'), 576 * 2 * 61);
  assert.equal(kvTokenBytes(mla, 'fp8'), DS_MLA_TOKEN_BYTES * 61);
  assert.equal(kvTokenBytes(gqa, 'bf16'), 2 * 8 * 128 * 2 * 32);
  assert.equal(kvTokenBytes(gqa, 'fp8'), 2 * 8 * 128 * 32);
  assert.equal(kvTokenBytes(mla, 'bf16'), DEEPSEEK_V3.bytesPerToken, "the memory study's bytes");
});

test('kvTokenBytes refuses what is not a cache shape or a dtype, naming it', () => {
  const mla = DEEPSEEK_V3.kv!;
  for (const [shape, dtype, argument] of [
    [null, 'bf16', 'shape'],
    [{ ...mla, kind: 'mha' }, 'bf16', 'shape.kind'],
    [{ ...mla, layers: 0 }, 'bf16', 'shape.layers'],
    [{ ...mla, latentDims: 500 }, 'fp8', 'shape.latentDims'],
    [mla, 'fp16', 'dtype'],
  ] as const) {
    assert.throws(
      () => kvTokenBytes(shape as never, dtype as never),
      (e: unknown) => e instanceof ArgumentError && e.argument === argument,
    );
  }
});

test('stats() counts bytes with tokenBytes: total, used, the page waste and what sharing saved', () => {
  const tokenBytes = kvTokenBytes(DEEPSEEK_V3.kv!, 'fp8');
  const cache = new PagedKvCache({ numPages: 10, pageSize: 16, tokenBytes });
  const a = cache.createSequence();
  cache.append(a, 40); // 3 pages, 8 slots unused
  const b = cache.fork(a); // shares all 3
  cache.append(b, 1); // copies the shared partial page: 4 pages used
  const s = cache.stats();
  assert.equal(s.pagesUsed, 4);
  assert.deepEqual(s.bytes, {
    perToken: tokenBytes,
    total: 10 * 16 * tokenBytes,
    used: s.pagesUsed * 16 * tokenBytes,
    unused: s.slotsUnused * tokenBytes,
    savedBySharing: s.pagesSavedBySharing * 16 * tokenBytes,
  });
  assert.equal(s.pagesSavedBySharing, 2);
  assert.equal(new PagedKvCache({ numPages: 2, pageSize: 4 }).stats().bytes, undefined);
});

test('tokenBytes must be a positive integer keeping the pool exact in a double', () => {
  for (const tokenBytes of [0, 1.5, -3, NaN, 2 ** 40, '8']) {
    assert.throws(
      () => new PagedKvCache({ numPages: 1 << 20, pageSize: 64, tokenBytes: tokenBytes as number }),
      (e: unknown) => e instanceof ArgumentError && e.argument === 'tokenBytes',
    );
  }
});
