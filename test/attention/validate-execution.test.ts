/**
 * Execution options and schedule sizes: the CPU path checks `out`, `lse`, `workspace`, `into`,
 * `stream` and `checkContents` exactly as the CUDA path does, fills the outputs it is given, and
 * rejects disposed device tensors before any backend runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError } from '../../src/errors.js';
import { Tensor, type TensorLike } from '../../src/tensor.js';
import { getMlaMetadata } from '../../src/attention/get-mla-metadata.js';
import { flashMlaWithKvcache } from '../../src/attention/flash-mla-with-kvcache.js';
import { gqaDecodeWithKvcache } from '../../src/attention/gqa-decode-with-kvcache.js';
import { writeKv } from '../../src/attention/write-kv.js';
import { MAX_NUM_SMS, numSmPartsFor } from '../../src/schedule/index.js';
import { checkTensorLike } from '../../src/check-tensor.js';
import { makeGqaProblem, makeMlaProblem } from '../../src/testing/problems.js';

const mla = makeMlaProblem({ seqlens: [40, 7], sQ: 1, hQ: 2, pageSize: 16, seed: 5 });
const schedule = getMlaMetadata(mla.cacheSeqlens, 2, 1);

function decode(options: object, q: TensorLike = mla.q): unknown {
  const { kvCache, blockTable, cacheSeqlens, headDimV } = mla;
  const { tileSchedulerMetadata, numSplits } = schedule;
  return flashMlaWithKvcache(
    q,
    kvCache,
    blockTable,
    cacheSeqlens,
    headDimV,
    tileSchedulerMetadata,
    numSplits,
    options,
  );
}

const isArg = (argument: string, actual?: RegExp) => (e: unknown) =>
  e instanceof ArgumentError && e.argument === argument && (!actual || actual.test(e.actual));

test('a malformed out, lse or workspace is rejected on the CPU as on the GPU', () => {
  const out = (shape: number[], dtype: Tensor['dtype'] = 'bfloat16') => Tensor.zeros(shape, dtype);
  assert.throws(() => decode({ out: out([2, 1, 2, 4]) }), isArg('out.shape', /\[2,1,2,4\]/));
  assert.throws(() => decode({ out: out([2, 1, 2, 512], 'float16') }), isArg('out.dtype'));
  assert.throws(() => decode({ out: 'out' }), isArg('out', /"out" \(string\)/));
  assert.throws(() => decode({ lse: out([2, 2, 1], 'bfloat16') }), isArg('lse.dtype'));
  assert.throws(() => decode({ lse: out([2, 1, 2], 'float32') }), isArg('lse.shape'));
  assert.throws(() => decode({ workspace: 42 }), isArg('workspace', /^42$/));
  assert.throws(() => decode({ checkContents: 'yes' }), isArg('options.checkContents'));
  assert.throws(() => decode(null as unknown as object), isArg('options'));
});

test('the CPU path fills the out and lse it is given and returns them', () => {
  const out = Tensor.zeros([2, 1, 2, 512], 'bfloat16');
  const lse = Tensor.zeros([2, 2, 1], 'float32');
  const given = decode({ out, lse }) as { out: Tensor; lse: Tensor };
  const fresh = decode({}) as { out: Tensor; lse: Tensor };
  assert.equal(given.out, out);
  assert.equal(given.lse, lse);
  assert.deepEqual(out.data, fresh.out.data);
  assert.deepEqual(lse.data, fresh.lse.data);
  assert.ok(lse.data.some((v) => v !== 0));
});

test('getMlaMetadata checks and fills `into` on the CPU', () => {
  const lens = mla.cacheSeqlens;
  const parts = schedule.tileSchedulerMetadata.shape[0];
  const into = {
    tileSchedulerMetadata: Tensor.zeros([parts, 8], 'int32'),
    numSplits: Tensor.zeros([3], 'int32'),
  };
  const filled = getMlaMetadata(lens, 2, 1, { into });
  assert.equal(filled.tileSchedulerMetadata, into.tileSchedulerMetadata);
  assert.deepEqual(into.tileSchedulerMetadata.data, schedule.tileSchedulerMetadata.data);
  assert.deepEqual(into.numSplits.data, schedule.numSplits.data);
  const wrong = { ...into, numSplits: Tensor.zeros([2], 'int32') };
  assert.throws(() => getMlaMetadata(lens, 2, 1, { into: wrong }), isArg('into.numSplits.shape'));
  assert.throws(() => getMlaMetadata(lens, 2, 1, { into: 7 as never }), isArg('into'));
});

test('schedule sizes out of range or not integers are an ArgumentError', () => {
  const lens = mla.cacheSeqlens;
  for (const numSms of [1e10, MAX_NUM_SMS + 1, 0, 1.5, NaN, '8']) {
    assert.throws(() => getMlaMetadata(lens, 2, 1, { numSms } as never), isArg('numSms'));
  }
  assert.throws(() => getMlaMetadata(lens, 2 ** 31, 1), isArg('numQTokensPerHeadK'));
  assert.throws(() => getMlaMetadata(lens, 2, '1' as never), isArg('numHeadsK', /"1"/));
  assert.throws(() => getMlaMetadata(lens, 2, 1, null as never), isArg('options'));
  assert.throws(() => numSmPartsFor(132, 0, 1), isArg('numQTokensPerHeadK', /^0$/));
  assert.throws(() => numSmPartsFor(132, 1, 0), isArg('numHeadsK'));
  assert.throws(() => numSmPartsFor(-1, 1, 1), isArg('numSms'));
  assert.equal(numSmPartsFor(MAX_NUM_SMS, 1, 1), MAX_NUM_SMS);
  assert.equal(getMlaMetadata(lens, 2, 1, { numSms: 7 }).tileSchedulerMetadata.shape[0], 7);
});

/** A device tensor description whose memory was freed. */
function disposed(t: Tensor): TensorLike {
  const { dtype, shape, strides } = t;
  return { dtype, shape, strides, location: 'cuda', disposed: true, toHost: () => t };
}

test('a disposed tensor is rejected by name before any backend runs', () => {
  const isDisposed = (argument: string) => (e: unknown) =>
    e instanceof ArgumentError && e.argument === argument && /disposed/.test(e.message);
  assert.throws(() => checkTensorLike(disposed(mla.q), 'q'), isDisposed('q'));
  const { kvCache, cacheSeqlens } = mla;
  assert.throws(() => decode({}, disposed(mla.q)), isDisposed('q'));
  assert.throws(() => getMlaMetadata(disposed(cacheSeqlens), 2, 1), isDisposed('cacheSeqlens'));
  const rows = Tensor.zeros([1, 1, 576], 'bfloat16');
  const slots = Tensor.from([0], [1], 'int32');
  assert.throws(() => writeKv<TensorLike>(kvCache, disposed(rows), slots), isDisposed('rows'));
  const gqa = makeGqaProblem({ seqlens: [5], sQ: 1, hQ: 2, d: 64, pageSize: 16, seed: 3 });
  const gs = getMlaMetadata(gqa.cacheSeqlens, 2, 1);
  assert.throws(
    () =>
      gqaDecodeWithKvcache<TensorLike>(
        gqa.q,
        gqa.kCache,
        disposed(gqa.vCache),
        gqa.blockTable,
        gqa.cacheSeqlens,
        gs.tileSchedulerMetadata,
        gs.numSplits,
      ),
    isDisposed('vCache'),
  );
  assert.throws(
    () => decode({ out: disposed(Tensor.zeros([2, 1, 2, 512], 'bfloat16')) }),
    isDisposed('out'),
  );
});
