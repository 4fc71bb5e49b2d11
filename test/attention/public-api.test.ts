import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getMlaMetadata } from '../../src/attention/get-mla-metadata.js';
import { flashMlaWithKvcache } from '../../src/attention/flash-mla-with-kvcache.js';
import { gqaDecodeWithKvcache } from '../../src/attention/gqa-decode-with-kvcache.js';
import { writeKv } from '../../src/attention/write-kv.js';
import { numSmPartsFor } from '../../src/schedule/index.js';
import { naiveGqaDecode, naiveMlaDecode } from '../../src/reference/naive-attention.js';
import { makeGqaProblem, makeMlaProblem } from '../../src/testing/problems.js';
import { decodeErrors } from '../../src/testing/compare.js';
import { randomTensor } from '../../src/testing/paged-layout.js';
import { Random } from '../../src/testing/random.js';
import { Tensor } from '../../src/tensor.js';

test('getMlaMetadata defaults to 132 SMs and honours numSms', () => {
  const seqlens = Tensor.from([100, 0, 1000], [3], 'int32');
  const byDefault = getMlaMetadata(seqlens, 64, 1);
  assert.deepEqual(byDefault.tileSchedulerMetadata.shape, [numSmPartsFor(132, 64, 1), 8]);
  const four = getMlaMetadata(seqlens, 64, 1, { numSms: 4 });
  assert.deepEqual(four.tileSchedulerMetadata.shape, [4, 8]);
  assert.deepEqual([...four.numSplits.data], [0, 1, 2, 4]);
});

test('flashMlaWithKvcache: DeepSeek shapes (d_qk 576, d_v 512), default scale, causal', () => {
  const p = makeMlaProblem({ seqlens: [150, 0, 40], sQ: 2, hQ: 16, pageSize: 64, seed: 51 });
  const md = getMlaMetadata(p.cacheSeqlens, 32, 1);
  const r = flashMlaWithKvcache(
    p.q,
    p.kvCache,
    p.blockTable,
    p.cacheSeqlens,
    512,
    md.tileSchedulerMetadata,
    md.numSplits,
    { causal: true },
  );
  const reference = naiveMlaDecode(p.q, p.kvCache, p.blockTable, p.cacheSeqlens, 512, {
    causal: true,
  });
  const errors = decodeErrors(r, reference);
  assert.ok(
    errors.outRelativeError < 1e-2 && errors.outUlps <= 2 && errors.lseRelativeError <= 1e-5,
  );
});

test('gqaDecodeWithKvcache matches the reference', () => {
  const p = makeGqaProblem({
    seqlens: [90, 33],
    sQ: 1,
    hQ: 8,
    hKv: 2,
    d: 128,
    pageSize: 16,
    seed: 52,
  });
  const md = getMlaMetadata(p.cacheSeqlens, 4, 2);
  const r = gqaDecodeWithKvcache(
    p.q,
    p.kCache,
    p.vCache,
    p.blockTable,
    p.cacheSeqlens,
    md.tileSchedulerMetadata,
    md.numSplits,
    { softmaxScale: 0.2 },
  );
  const reference = naiveGqaDecode(p.q, p.kCache, p.vCache, p.blockTable, p.cacheSeqlens, {
    softmaxScale: 0.2,
  });
  const errors = decodeErrors(r, reference);
  assert.ok(
    errors.outRelativeError < 1e-2 && errors.outUlps <= 2 && errors.lseRelativeError <= 1e-5,
  );
});

test('writeKv then decode: tokens written through a slot mapping are attended', () => {
  // A pool of 2 pages of 4 rows, all NaN; the sequence's 2 tokens go to slots 4 and 5 (page 1).
  const rng = new Random(53);
  const cache = Tensor.from(new Array(2 * 4 * 64).fill(NaN), [2, 4, 1, 64], 'bfloat16');
  const rows = randomTensor(rng, [3, 1, 64], 'bfloat16');
  writeKv(cache, rows, Tensor.from([4, -1, 5], [3], 'int32'));
  const values = cache.toFloat32();
  const written = [4, 5].flatMap((slot) => [...values.subarray(slot * 64, slot * 64 + 64)]);
  const expected = [0, 2].flatMap((i) => [...rows.toFloat32().subarray(i * 64, i * 64 + 64)]);
  assert.deepEqual(written, expected);
  assert.equal(values.filter(Number.isNaN).length, 6 * 64, 'the other six slots are untouched');

  const q = randomTensor(rng, [1, 1, 1, 64], 'bfloat16');
  const seqlens = Tensor.from([2], [1], 'int32');
  const table = Tensor.from([1], [1, 1], 'int32');
  const md = getMlaMetadata(seqlens, 1, 1);
  const r = flashMlaWithKvcache(
    q,
    cache,
    table,
    seqlens,
    64,
    md.tileSchedulerMetadata,
    md.numSplits,
  );
  const reference = naiveMlaDecode(q, cache, table, seqlens, 64);
  assert.ok(r.out.toFloat32().every(Number.isFinite));
  const errors = decodeErrors(r, reference);
  assert.ok(errors.outUlps <= 2 && errors.lseRelativeError <= 1e-5);
});
