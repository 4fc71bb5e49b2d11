/**
 * One test per rejection: every bad argument of the public attention functions throws an
 * ArgumentError naming that argument, before any work is done.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError } from '../../src/errors.js';
import { Tensor, type TensorLike } from '../../src/tensor.js';
import type { DType } from '../../src/dtype.js';
import { getMlaMetadata } from '../../src/attention/get-mla-metadata.js';
import { flashMlaWithKvcache } from '../../src/attention/flash-mla-with-kvcache.js';
import { gqaDecodeWithKvcache } from '../../src/attention/gqa-decode-with-kvcache.js';
import { writeKv } from '../../src/attention/write-kv.js';
import { makeGqaProblem, makeMlaProblem } from '../../src/testing/problems.js';
import { Random } from '../../src/testing/random.js';
import { randomTensor } from '../../src/testing/paged-layout.js';

// ---------------------------------------------------------------------------------------------
// Valid arguments, and ways to spoil one of them

const mla = makeMlaProblem({
  seqlens: [70, 0, 20],
  sQ: 2,
  hQ: 4,
  hKv: 2,
  pageSize: 16,
  dQk: 16,
  dV: 8,
  seed: 41,
});
const mlaSchedule = getMlaMetadata(mla.cacheSeqlens, 4, 2);
const gqa = makeGqaProblem({
  seqlens: [30, 50],
  sQ: 1,
  hQ: 4,
  hKv: 2,
  d: 64,
  pageSize: 16,
  seed: 42,
});
const gqaSchedule = getMlaMetadata(gqa.cacheSeqlens, 2, 2);

function zeros(shape: number[], dtype: DType): Tensor {
  return Tensor.zeros(shape, dtype);
}

/** The same shape and dtype with the last dimension strided (every other element). */
function stridedLastDim(t: Tensor): Tensor {
  const strides = t.strides.map((s) => s * 2);
  return new Tensor(
    t.dtype,
    t.shape,
    new (t.data.constructor as Uint16ArrayConstructor)(t.numel * 2) as never,
    strides,
  );
}

function int32(values: number[], shape: number[]): Tensor {
  return Tensor.from(values, shape, 'int32');
}

/** A tensor description on a device nobody registered. */
function onDevice(t: TensorLike): TensorLike {
  return {
    dtype: t.dtype,
    shape: t.shape,
    strides: t.strides,
    location: 'cuda',
    toHost: () => {
      throw new Error('a tensor description has no contents');
    },
  };
}

type MlaArgs = Parameters<typeof flashMlaWithKvcache<TensorLike>>;

function mlaArgs(): MlaArgs {
  return [
    mla.q,
    mla.kvCache,
    mla.blockTable,
    mla.cacheSeqlens,
    8,
    mlaSchedule.tileSchedulerMetadata,
    mlaSchedule.numSplits,
    { causal: true },
  ];
}

function expectArgumentError(fn: () => unknown, argument: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ArgumentError, `an ArgumentError, got ${String(e)}`);
    assert.equal(e.argument, argument, e.message);
    assert.ok(e.message.includes('expected') && e.message.includes('got'));
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// The valid calls work (so every rejection below is caused by the one spoiled argument)

test('the valid calls pass validation', () => {
  const r = flashMlaWithKvcache(...mlaArgs());
  assert.deepEqual(r.out.shape, [3, 2, 4, 8]);
  const g = gqaDecodeWithKvcache(
    gqa.q,
    gqa.kCache,
    gqa.vCache,
    gqa.blockTable,
    gqa.cacheSeqlens,
    gqaSchedule.tileSchedulerMetadata,
    gqaSchedule.numSplits,
  );
  assert.deepEqual(g.out.shape, [2, 1, 4, 64]);
});

// ---------------------------------------------------------------------------------------------
// flashMlaWithKvcache

const mlaRejections: [string, string, (a: MlaArgs) => void][] = [
  ['q is not a tensor', 'q', (a) => (a[0] = {} as never)],
  ['q has rank 3', 'q', (a) => (a[0] = zeros([3, 2, 64], 'bfloat16'))],
  ['q is float32', 'q', (a) => (a[0] = zeros([3, 2, 4, 16], 'float32'))],
  ['s_q is 0', 'q.shape[1]', (a) => (a[0] = zeros([3, 0, 4, 16], 'bfloat16'))],
  ['h_q is 0', 'q.shape[2]', (a) => (a[0] = zeros([3, 2, 0, 16], 'bfloat16'))],
  ['d_qk is 0', 'q.shape[3]', (a) => (a[0] = zeros([3, 2, 4, 0], 'bfloat16'))],
  ['q has a strided last dimension', 'q.strides[3]', (a) => (a[0] = stridedLastDim(mla.q))],
  ['kCache has rank 3', 'kCache', (a) => (a[1] = zeros([5, 16, 16], 'bfloat16'))],
  [
    'kCache is float16 while q is bfloat16',
    'kCache',
    (a) => (a[1] = zeros([5, 16, 2, 16], 'float16')),
  ],
  ['page size 0', 'kCache.shape[1]', (a) => (a[1] = zeros([5, 0, 2, 16], 'bfloat16'))],
  ['h_kv 0', 'kCache.shape[2]', (a) => (a[1] = zeros([5, 16, 0, 16], 'bfloat16'))],
  [
    'h_q not a multiple of h_kv',
    'kCache.shape[2]',
    (a) => (a[1] = zeros([5, 16, 3, 16], 'bfloat16')),
  ],
  [
    'kCache head dim differs from q',
    'kCache.shape[3]',
    (a) => (a[1] = zeros([5, 16, 2, 32], 'bfloat16')),
  ],
  [
    'kCache has a strided last dimension',
    'kCache.strides[3]',
    (a) => (a[1] = stridedLastDim(mla.kvCache)),
  ],
  ['blockTable has rank 1', 'blockTable', (a) => (a[2] = zeros([3], 'int32'))],
  ['blockTable is float32', 'blockTable', (a) => (a[2] = zeros([3, 6], 'float32'))],
  [
    'blockTable has the wrong batch size',
    'blockTable.shape[0]',
    (a) => (a[2] = zeros([2, 6], 'int32')),
  ],
  [
    'blockTable has a strided last dimension',
    'blockTable.strides[1]',
    (a) => (a[2] = stridedLastDim(mla.blockTable)),
  ],
  ['cacheSeqlens has rank 2', 'cacheSeqlens', (a) => (a[3] = zeros([3, 1], 'int32'))],
  ['cacheSeqlens is float32', 'cacheSeqlens', (a) => (a[3] = zeros([3], 'float32'))],
  [
    'cacheSeqlens has the wrong batch size',
    'cacheSeqlens.shape[0]',
    (a) => (a[3] = zeros([4], 'int32')),
  ],
  ['headDimV 0', 'headDimV', (a) => (a[4] = 0)],
  ['headDimV above d_qk', 'headDimV', (a) => (a[4] = 17)],
  ['headDimV not an integer', 'headDimV', (a) => (a[4] = 7.5)],
  ['headDimV not a number', 'headDimV', (a) => (a[4] = '8' as never)],
  [
    'tileSchedulerMetadata has rank 1',
    'tileSchedulerMetadata',
    (a) => (a[5] = zeros([8], 'int32')),
  ],
  [
    'tileSchedulerMetadata is float32',
    'tileSchedulerMetadata',
    (a) => (a[5] = zeros([4, 8], 'float32')),
  ],
  [
    'tileSchedulerMetadata has no parts',
    'tileSchedulerMetadata.shape[0]',
    (a) => (a[5] = zeros([0, 8], 'int32')),
  ],
  [
    'tileSchedulerMetadata rows are not 8 wide',
    'tileSchedulerMetadata.shape[1]',
    (a) => (a[5] = zeros([4, 5], 'int32')),
  ],
  ['numSplits has rank 2', 'numSplits', (a) => (a[6] = zeros([4, 1], 'int32'))],
  ['numSplits is float32', 'numSplits', (a) => (a[6] = zeros([4], 'float32'))],
  ['numSplits is not b + 1 long', 'numSplits.shape[0]', (a) => (a[6] = zeros([3], 'int32'))],
  ['options is not an object', 'options', (a) => (a[7] = 3 as never)],
  ['softmaxScale 0', 'options.softmaxScale', (a) => (a[7] = { softmaxScale: 0 })],
  ['softmaxScale negative', 'options.softmaxScale', (a) => (a[7] = { softmaxScale: -0.1 })],
  ['softmaxScale NaN', 'options.softmaxScale', (a) => (a[7] = { softmaxScale: NaN })],
  ['softmaxScale infinite', 'options.softmaxScale', (a) => (a[7] = { softmaxScale: Infinity })],
  ['causal not a boolean', 'options.causal', (a) => (a[7] = { causal: 1 as never })],
  // Contents
  ['a negative length', 'cacheSeqlens[1]', (a) => (a[3] = int32([70, -1, 20], [3]))],
  [
    'a length past maxPages * pageSize',
    'cacheSeqlens[2]',
    (a) => (a[3] = int32([70, 0, 16 * 6 + 1], [3])),
  ],
  [
    'a used block-table entry past the pool',
    'blockTable[0][4]',
    (a) => (a[2] = withEntry(mla.blockTable, 0, 4, mla.layout.numPages)),
  ],
  [
    'a negative used block-table entry',
    'blockTable[2][1]',
    (a) => (a[2] = withEntry(mla.blockTable, 2, 1, -1)),
  ],
  [
    'numSplits of other lengths',
    'numSplits[2]',
    (a) => (a[6] = getMlaMetadata(int32([70, 300, 20], [3]), 4, 2).numSplits),
  ],
  [
    'a schedule of other lengths',
    'tileSchedulerMetadata[1]',
    (a) => (a[5] = getMlaMetadata(int32([75, 0, 20], [3]), 4, 2).tileSchedulerMetadata),
  ],
  // Where the tensors live
  ['a device tensor among host tensors', 'kCache', (a) => (a[1] = onDevice(mla.kvCache))],
  [
    'a host tensor that is not a Tensor',
    'q',
    (a) => (a[0] = { ...onDevice(mla.q), location: 'host' }),
  ],
];

function withEntry(table: Tensor, seq: number, page: number, value: number): Tensor {
  const data = Int32Array.from(table.data as Int32Array);
  data[seq * table.shape[1] + page] = value;
  return new Tensor('int32', table.shape, data);
}

for (const [what, argument, spoil] of mlaRejections) {
  test(`flashMlaWithKvcache rejects: ${what}`, () => {
    const args = mlaArgs();
    spoil(args);
    expectArgumentError(() => flashMlaWithKvcache(...args), argument);
  });
}

test("block-table entries past a sequence's last page are not checked (they may hold garbage)", () => {
  const args = mlaArgs();
  // Sequence 0 (length 70, pageSize 16) uses entries 0..4; entry 5 may hold anything.
  args[2] = withEntry(withEntry(mla.blockTable, 0, 5, -123456), 1, 0, 1 << 30);
  assert.doesNotThrow(() => flashMlaWithKvcache(...args));
});

// ---------------------------------------------------------------------------------------------
// gqaDecodeWithKvcache: what differs from MLA

type GqaArgs = Parameters<typeof gqaDecodeWithKvcache<TensorLike>>;

function gqaArgs(): GqaArgs {
  return [
    gqa.q,
    gqa.kCache,
    gqa.vCache,
    gqa.blockTable,
    gqa.cacheSeqlens,
    gqaSchedule.tileSchedulerMetadata,
    gqaSchedule.numSplits,
    {},
  ];
}

const gqaRejections: [string, string, (a: GqaArgs) => void][] = [
  [
    'a head dim outside {64, 128, 256}',
    'q.shape[3]',
    (a) => {
      a[0] = zeros([2, 1, 4, 96], 'bfloat16');
      a[1] = zeros([gqa.layout.numPages, 16, 2, 96], 'bfloat16');
    },
  ],
  ['vCache is not a tensor', 'vCache', (a) => (a[2] = undefined as never)],
  ['vCache has rank 3', 'vCache', (a) => (a[2] = zeros([5, 16, 128], 'bfloat16'))],
  ['vCache dtype differs', 'vCache', (a) => (a[2] = zeros(gqa.vCache.shape.slice(), 'float16'))],
  [
    'vCache has fewer pages than kCache',
    'vCache.shape[0]',
    (a) => (a[2] = zeros([1, 16, 2, 64], 'bfloat16')),
  ],
  [
    'vCache head dim differs',
    'vCache.shape[3]',
    (a) => (a[2] = zeros([gqa.layout.numPages, 16, 2, 128], 'bfloat16')),
  ],
  [
    'vCache has a strided last dimension',
    'vCache.strides[3]',
    (a) => (a[2] = stridedLastDim(gqa.vCache)),
  ],
  [
    'a used block-table entry past the pool',
    'blockTable[1][3]',
    (a) => (a[3] = withEntry(gqa.blockTable, 1, 3, 9999)),
  ],
  ['a device vCache among host tensors', 'vCache', (a) => (a[2] = onDevice(gqa.vCache))],
];

for (const [what, argument, spoil] of gqaRejections) {
  test(`gqaDecodeWithKvcache rejects: ${what}`, () => {
    const args = gqaArgs();
    spoil(args);
    expectArgumentError(() => gqaDecodeWithKvcache(...args), argument);
  });
}

// ---------------------------------------------------------------------------------------------
// getMlaMetadata

type MetadataArgs = Parameters<typeof getMlaMetadata<TensorLike>>;

const metadataRejections: [string, string, MetadataArgs][] = [
  ['cacheSeqlens is not a tensor', 'cacheSeqlens', [[70, 0] as never, 4, 1]],
  ['cacheSeqlens has rank 2', 'cacheSeqlens', [zeros([2, 1], 'int32'), 4, 1]],
  ['cacheSeqlens is float32', 'cacheSeqlens', [zeros([2], 'float32'), 4, 1]],
  ['numQTokensPerHeadK 0', 'numQTokensPerHeadK', [int32([5], [1]), 0, 1]],
  ['numQTokensPerHeadK fractional', 'numQTokensPerHeadK', [int32([5], [1]), 1.5, 1]],
  ['numHeadsK 0', 'numHeadsK', [int32([5], [1]), 4, 0]],
  ['numSms 0', 'numSms', [int32([5], [1]), 4, 1, { numSms: 0 }]],
  ['numSms not a number', 'numSms', [int32([5], [1]), 4, 1, { numSms: '132' as never }]],
  ['a negative length', 'cacheSeqlens[1]', [int32([5, -3], [2]), 4, 1]],
];

for (const [what, argument, args] of metadataRejections) {
  test(`getMlaMetadata rejects: ${what}`, () => {
    expectArgumentError(() => getMlaMetadata(...args), argument);
  });
}

// ---------------------------------------------------------------------------------------------
// writeKv

const rng = new Random(43);
type WriteArgs = [TensorLike, TensorLike, TensorLike];

function writeArgs(): WriteArgs {
  return [
    randomTensor(rng, [4, 8, 2, 64], 'bfloat16'),
    randomTensor(rng, [3, 2, 64], 'bfloat16'),
    int32([0, -1, 31], [3]),
  ];
}

const writeRejections: [string, string, (a: WriteArgs) => void][] = [
  ['cache has rank 3', 'cache', (a) => (a[0] = zeros([4, 8, 128], 'bfloat16'))],
  ['cache is float32', 'cache', (a) => (a[0] = zeros([4, 8, 2, 64], 'float32'))],
  ['cache has page size 0', 'cache.shape[1]', (a) => (a[0] = zeros([4, 0, 2, 64], 'bfloat16'))],
  [
    'cache has a strided last dimension',
    'cache.strides[3]',
    (a) => (a[0] = stridedLastDim(zeros([4, 8, 2, 64], 'bfloat16'))),
  ],
  ['rows is not a tensor', 'rows', (a) => (a[1] = null as never)],
  ['rows has rank 4', 'rows', (a) => (a[1] = zeros([3, 1, 2, 64], 'bfloat16'))],
  ['rows dtype differs from cache', 'rows', (a) => (a[1] = zeros([3, 2, 64], 'float16'))],
  ['rows has other KV heads', 'rows.shape[1]', (a) => (a[1] = zeros([3, 1, 64], 'bfloat16'))],
  ['rows has another head dim', 'rows.shape[2]', (a) => (a[1] = zeros([3, 2, 32], 'bfloat16'))],
  [
    'rows has a strided last dimension',
    'rows.strides[2]',
    (a) => (a[1] = stridedLastDim(zeros([3, 2, 64], 'bfloat16'))),
  ],
  ['slotMapping has rank 2', 'slotMapping', (a) => (a[2] = zeros([3, 1], 'int32'))],
  ['slotMapping is float32', 'slotMapping', (a) => (a[2] = zeros([3], 'float32'))],
  ['slotMapping has another length', 'slotMapping.shape[0]', (a) => (a[2] = int32([0, 1], [2]))],
  ['a slot below -1', 'slotMapping[1]', (a) => (a[2] = int32([0, -2, 3], [3]))],
  ['a slot past the cache', 'slotMapping[2]', (a) => (a[2] = int32([0, 1, 32], [3]))],
  ['a device cache with host rows', 'rows', (a) => (a[0] = onDevice(a[0]))],
];

for (const [what, argument, spoil] of writeRejections) {
  test(`writeKv rejects: ${what}`, () => {
    const args = writeArgs();
    const cache = args[0] as Tensor;
    const before = Uint16Array.from(cache.data as Uint16Array);
    spoil(args);
    expectArgumentError(() => writeKv(...args), argument);
    assert.deepEqual(cache.data, before, 'nothing was written');
  });
}
