// The FP8 options of the public calls (isFp8Kvcache, descaleQ / descaleK / descaleV, writeKv's
// descale): every wrong combination is an ArgumentError naming the argument before any work, the
// CUDA backend refuses them before the native library, and writeKv then decode works end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/backend/cuda/register.js';
import { ArgumentError } from '../../src/errors.js';
import { Tensor, type TensorLike } from '../../src/tensor.js';
import { getMlaMetadata } from '../../src/attention/get-mla-metadata.js';
import { flashMlaWithKvcache } from '../../src/attention/flash-mla-with-kvcache.js';
import { gqaDecodeWithKvcache } from '../../src/attention/gqa-decode-with-kvcache.js';
import { writeKv } from '../../src/attention/write-kv.js';
import { naiveGqaDecode, naiveMlaDecode } from '../../src/reference/naive-attention.js';
import { makeGqaProblem, makeMlaProblem } from '../../src/testing/problems.js';
import { decodeErrors } from '../../src/testing/compare.js';
import { dsMlaOf, e4m3Of } from '../../src/testing/fp8-caches.js';
import { randomTensor } from '../../src/testing/paged-layout.js';
import { Random } from '../../src/testing/random.js';
import { dequantizeE4m3, dequantizeFp8DsMla, quantizeFp8DsMla } from '../../src/fp8/fp8-tensors.js';

const isArg = (argument: string, expected?: RegExp) => (e: unknown) =>
  e instanceof ArgumentError && e.argument === argument && (!expected || expected.test(e.expected));

const scale = (value: number) => Tensor.from([value], [1], 'float32');

// --- MLA -------------------------------------------------------------------------------------

const mla = makeMlaProblem({ seqlens: [40, 7], sQ: 1, hQ: 2, pageSize: 16, seed: 5 });
const mlaSchedule = getMlaMetadata(mla.cacheSeqlens, 2, 1);
const dsMla = dsMlaOf(mla.kvCache).fp8;
const e4m3Cache = e4m3Of(mla.kvCache);
const e4m3Q = e4m3Of(mla.q);

function mlaDecode(kCache: TensorLike, options: object, q: TensorLike = mla.q, headDimV = 512) {
  const layout = [mla.blockTable, mla.cacheSeqlens] as const;
  const schedule = [mlaSchedule.tileSchedulerMetadata, mlaSchedule.numSplits] as const;
  return flashMlaWithKvcache<TensorLike>(q, kCache, ...layout, headDimV, ...schedule, options);
}

test('flashMlaWithKvcache: each FP8 option is checked for its type', () => {
  const k = e4m3Cache.fp8;
  assert.throws(() => mlaDecode(dsMla, { isFp8Kvcache: 'yes' }), isArg('options.isFp8Kvcache'));
  assert.throws(() => mlaDecode(k, { descaleK: 0.5 }), isArg('options.descaleK'));
  const bf16Scale = Tensor.from([0.5], [1], 'bfloat16');
  assert.throws(() => mlaDecode(k, { descaleK: bf16Scale }), isArg('options.descaleK', /float32/));
  const twoScales = Tensor.from([0.5, 1], [2], 'float32');
  assert.throws(() => mlaDecode(k, { descaleK: twoScales }), isArg('options.descaleK', /one/));
  assert.throws(
    () => mlaDecode(k, { descaleK: scale(1), descaleV: scale(1) }),
    isArg('options.descaleV', /descaleK scales both/),
  );
  // A one-element tensor of any rank will do.
  assert.doesNotThrow(() => mlaDecode(k, { descaleK: Tensor.from([0.01], [], 'float32') }));
});

test('flashMlaWithKvcache: wrong combinations of format, dtypes and shapes', () => {
  const k = e4m3Cache.fp8;
  // The format and the cache's dtype go together.
  assert.throws(() => mlaDecode(mla.kvCache, { isFp8Kvcache: true }), isArg('kCache', /float8/));
  assert.throws(() => mlaDecode(mla.kvCache, { descaleK: scale(1) }), isArg('kCache', /descaleK/));
  assert.throws(() => mlaDecode(dsMla, {}), isArg('kCache', /isFp8Kvcache/));
  assert.throws(() => mlaDecode(k, { isFp8Kvcache: false }), isArg('kCache', /descaleK/));
  assert.throws(
    () => mlaDecode(dsMla, { isFp8Kvcache: true, descaleK: scale(1) }),
    isArg('options.descaleK'),
  );
  // fp8_ds_mla's shapes: 656-byte rows, one head, d_qk 576, d_v 512, packed rows.
  assert.throws(() => mlaDecode(k, { isFp8Kvcache: true }), isArg('kCache.shape[3]'));
  const twoHeads = Tensor.zeros([4, 16, 2, 656], 'float8_e4m3fn');
  const q4 = Tensor.zeros([2, 1, 4, 576], 'bfloat16');
  assert.throws(() => mlaDecode(twoHeads, { isFp8Kvcache: true }, q4), isArg('kCache.shape[2]'));
  const small = makeMlaProblem({ seqlens: [4], sQ: 1, hQ: 2, pageSize: 16, dQk: 64, seed: 6 });
  assert.throws(() => mlaDecode(dsMla, { isFp8Kvcache: true }, small.q), isArg('q.shape[3]'));
  assert.throws(() => mlaDecode(dsMla, { isFp8Kvcache: true }, mla.q, 256), isArg('headDimV'));
  const [numPages, pageSize] = dsMla.shape;
  const padded = new Uint8Array(numPages * pageSize * 700);
  const spaced = new Tensor('float8_e4m3fn', dsMla.shape, padded, [pageSize * 700, 700, 700, 1]);
  assert.throws(() => mlaDecode(spaced, { isFp8Kvcache: true }), isArg('kCache.strides[1]'));
  // Queries: e4m3 exactly with descaleQ, and only over an fp8_e4m3 cache.
  const descaleK = e4m3Cache.descale;
  const descaleQ = e4m3Q.descale;
  assert.throws(() => mlaDecode(k, { descaleK, descaleQ }), isArg('options.descaleQ', /undefined/));
  assert.throws(() => mlaDecode(k, { descaleK }, e4m3Q.fp8), isArg('options.descaleQ'));
  assert.throws(
    () => mlaDecode(dsMla, { isFp8Kvcache: true, descaleQ }, e4m3Q.fp8),
    isArg('q', /fp8_ds_mla format takes 16-bit/),
  );
  const bf16Cache = mla.kvCache;
  assert.throws(() => mlaDecode(bf16Cache, { descaleQ }, e4m3Q.fp8), isArg('q', /fp8_e4m3/));
  // e4m3 queries give a bfloat16 out: a preallocated out must be that.
  const out = Tensor.zeros([2, 1, 2, 512], 'float8_e4m3fn');
  assert.throws(
    () => mlaDecode(k, { descaleK, descaleQ, out }, e4m3Q.fp8),
    isArg('out.dtype', /bfloat16/),
  );
});

test('scales must be finite and > 0, and beside q', () => {
  const k = e4m3Cache.fp8;
  for (const bad of [0, -1, NaN, Infinity, -Infinity]) {
    assert.throws(() => mlaDecode(k, { descaleK: scale(bad) }), isArg('options.descaleK'));
    const descaleQ = scale(bad);
    const descaleK = e4m3Cache.descale;
    assert.throws(() => mlaDecode(k, { descaleK, descaleQ }, e4m3Q.fp8), isArg('options.descaleQ'));
  }
  const elsewhere = { ...scale(1), location: 'cuda', toHost: () => scale(1) } as TensorLike;
  assert.throws(() => mlaDecode(k, { descaleK: elsewhere }), isArg('options.descaleK', /host/));
});

// --- GQA -------------------------------------------------------------------------------------

const gqaShape = { sQ: 1, hQ: 4, hKv: 2, d: 64, pageSize: 16 };
const gqa = makeGqaProblem({ ...gqaShape, seqlens: [30, 9], seed: 7 });
const gqaSchedule = getMlaMetadata(gqa.cacheSeqlens, 2, 2);
const kE4m3 = e4m3Of(gqa.kCache);
const vE4m3 = e4m3Of(gqa.vCache);

function gqaDecode(kCache: TensorLike, vCache: TensorLike, options: object, q: TensorLike = gqa.q) {
  const { tileSchedulerMetadata, numSplits } = gqaSchedule;
  return gqaDecodeWithKvcache<TensorLike>(
    q,
    kCache,
    vCache,
    gqa.blockTable,
    gqa.cacheSeqlens,
    tileSchedulerMetadata,
    numSplits,
    options,
  );
}

test('gqaDecodeWithKvcache: wrong combinations of scales, dtypes and format', () => {
  const [k, v] = [kE4m3.fp8, vE4m3.fp8];
  const [descaleK, descaleV] = [kE4m3.descale, vE4m3.descale];
  assert.throws(() => gqaDecode(k, v, { descaleK }), isArg('options.descaleV'));
  assert.throws(() => gqaDecode(k, v, { descaleV }), isArg('options.descaleK'));
  assert.throws(() => gqaDecode(k, v, {}), isArg('kCache', /descaleK and options.descaleV/));
  assert.throws(
    () => gqaDecode(k, v, { descaleK, descaleV, isFp8Kvcache: true }),
    isArg('options.isFp8Kvcache', /MLA format/),
  );
  assert.throws(() => gqaDecode(gqa.kCache, gqa.vCache, { descaleK, descaleV }), isArg('kCache'));
  assert.throws(() => gqaDecode(k, gqa.vCache, { descaleK, descaleV }), isArg('vCache'));
  assert.throws(
    () => gqaDecode(k, v, { descaleK, descaleV: scale(NaN) }),
    isArg('options.descaleV'),
  );
  const q = e4m3Of(gqa.q);
  assert.throws(() => gqaDecode(k, v, { descaleK, descaleV }, q.fp8), isArg('options.descaleQ'));
  const result = gqaDecode(k, v, { descaleK, descaleV, descaleQ: q.descale }, q.fp8);
  assert.equal(result.out.dtype, 'bfloat16');
});

// --- writeKv ---------------------------------------------------------------------------------

test('writeKv: wrong combinations are refused before anything is written', () => {
  const rng = new Random(8);
  const cache = Tensor.zeros([2, 4, 1, 656], 'float8_e4m3fn');
  const rows = randomTensor(rng, [2, 1, 576], 'bfloat16');
  const slots = Tensor.from([0, 5], [2], 'int32');
  const ds = { isFp8Kvcache: true };
  assert.throws(() => writeKv(cache, rows, slots), isArg('cache', /isFp8Kvcache/));
  assert.throws(
    () => writeKv(cache, rows, slots, { ...ds, descale: scale(1) }),
    isArg('options.descale'),
  );
  assert.throws(
    () => writeKv(cache, rows, slots, { isFp8Kvcache: 1 } as never),
    isArg('options.isFp8Kvcache'),
  );
  const short = randomTensor(rng, [2, 1, 512], 'bfloat16');
  assert.throws(() => writeKv(cache, short, slots, ds), isArg('rows.shape[2]'));
  const fp8Rows = Tensor.zeros([2, 1, 576], 'float8_e4m3fn');
  assert.throws(() => writeKv(cache, fp8Rows, slots, ds), isArg('rows', /bfloat16 or float16/));
  const e4m3Cache576 = Tensor.zeros([2, 4, 1, 576], 'float8_e4m3fn');
  assert.throws(() => writeKv(e4m3Cache576, rows, slots, ds), isArg('cache.shape[3]'));
  const bf16Cache = Tensor.zeros([2, 4, 1, 576], 'bfloat16');
  assert.throws(
    () => writeKv(bf16Cache, rows, slots, { descale: scale(1) }),
    isArg('cache', /descale/),
  );
  for (const bad of [0, -2, NaN, Infinity]) {
    const descale = scale(bad);
    assert.throws(() => writeKv(e4m3Cache576, rows, slots, { descale }), isArg('options.descale'));
  }
  assert.ok(cache.data.every((b) => b === 0) && e4m3Cache576.data.every((b) => b === 0));
});

// --- the CUDA backend ------------------------------------------------------------------------

/** A device tensor's description (no device memory behind it: nothing may reach the library). */
function onDevice(t: Tensor): TensorLike {
  const { dtype, shape, strides } = t;
  return { dtype, shape, strides, location: 'cuda', toHost: () => t };
}

test('on the CUDA backend the FP8 calls without a kernel are refused by name before the library', () => {
  // (writeKv quantizes into both formats on the GPU: test/gpu/write-kv-fp8.test.ts)
  const refused = (argument: string) => (e: unknown) =>
    isArg(argument, /cpu backend only/)(e) && /cuda/.test((e as ArgumentError).actual);
  const { blockTable, cacheSeqlens } = mla;
  const { tileSchedulerMetadata, numSplits } = mlaSchedule;
  const device = [blockTable, cacheSeqlens, tileSchedulerMetadata, numSplits].map(onDevice);
  const [table, lens, schedule, splits] = device;
  // MLA over either format runs on the GPU (test/gpu/mla-decode-fp8.test.ts), float8_e4m3fn
  // queries too (over fp8_e4m3), but not float16 queries over fp8_ds_mla (bf16 rotary values).
  const q16 = onDevice(Tensor.zeros(mla.q.shape, 'float16'));
  assert.throws(
    () =>
      flashMlaWithKvcache(q16, onDevice(dsMla), table, lens, 512, schedule, splits, {
        isFp8Kvcache: true,
      }),
    refused('q'),
  );
});

// --- end to end ------------------------------------------------------------------------------

test('writeKv into fp8_ds_mla, then flashMlaWithKvcache({ isFp8Kvcache })', () => {
  const rng = new Random(9);
  const cache = Tensor.zeros([3, 16, 1, 656], 'float8_e4m3fn');
  const rows = randomTensor(rng, [20, 1, 576], 'bfloat16');
  // The sequence's 20 tokens on pages 2 and 0, in that order.
  const slots = Array.from({ length: 20 }, (_, t) => (t < 16 ? 32 + t : t - 16));
  writeKv(cache, rows, Tensor.from(slots, [20], 'int32'), { isFp8Kvcache: true });
  const tokens = quantizeFp8DsMla(rows).data;
  assert.deepEqual(cache.data.subarray(32 * 656, 48 * 656), tokens.subarray(0, 16 * 656));
  assert.deepEqual(cache.data.subarray(0, 4 * 656), tokens.subarray(16 * 656));

  const q = randomTensor(rng, [1, 2, 16, 576], 'bfloat16');
  const table = Tensor.from([2, 0], [1, 2], 'int32');
  const lens = Tensor.from([20], [1], 'int32');
  const md = getMlaMetadata(lens, 32, 1);
  const options = { isFp8Kvcache: true, causal: true };
  const r = flashMlaWithKvcache(
    q,
    cache,
    table,
    lens,
    512,
    md.tileSchedulerMetadata,
    md.numSplits,
    options,
  );
  const reference = naiveMlaDecode(q, dequantizeFp8DsMla(cache), table, lens, 512, {
    causal: true,
  });
  const errors = decodeErrors(r, reference);
  assert.ok(errors.outUlps <= 2 && errors.lseRelativeError <= 1e-5, JSON.stringify(errors));
});

test('writeKv into fp8_e4m3 K and V, then gqaDecodeWithKvcache({ descaleK, descaleV })', () => {
  const rng = new Random(10);
  const [kCache, vCache] = [0, 1].map(() => Tensor.zeros([2, 16, 2, 128], 'float8_e4m3fn'));
  const [kRows, vRows] = [0, 1].map(() => randomTensor(rng, [24, 2, 128], 'float16'));
  const [descaleK, descaleV] = [scale(0.4 / 448), scale(0.5 / 448)];
  const slots = Tensor.from([...Array(24).keys()], [24], 'int32');
  writeKv(kCache, kRows, slots, { descale: descaleK });
  writeKv(vCache, vRows, slots, { descale: descaleV });
  const q = randomTensor(rng, [1, 1, 8, 128], 'float16');
  const table = Tensor.from([0, 1], [1, 2], 'int32');
  const lens = Tensor.from([24], [1], 'int32');
  const md = getMlaMetadata(lens, 4, 2);
  const r = gqaDecodeWithKvcache(
    q,
    kCache,
    vCache,
    table,
    lens,
    md.tileSchedulerMetadata,
    md.numSplits,
    {
      descaleK,
      descaleV,
    },
  );
  assert.equal(r.out.dtype, 'float16');
  const k = dequantizeE4m3(kCache, descaleK.data[0]);
  const v = dequantizeE4m3(vCache, descaleV.data[0]);
  const errors = decodeErrors(r, naiveGqaDecode(q, k, v, table, lens));
  assert.ok(errors.outUlps <= 2 && errors.lseRelativeError <= 1e-5, JSON.stringify(errors));
});
