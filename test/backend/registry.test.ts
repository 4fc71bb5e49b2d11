import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, BackendUnavailableError } from '../../src/errors.js';
import { backendFor, backendForTensors, registerBackend } from '../../src/backend/registry.js';
import { cpuBackend } from '../../src/backend/cpu/index.js';
import type { Backend, DecodeOptions, MlaMetadata } from '../../src/backend/backend.js';
import { Tensor, type TensorLike } from '../../src/tensor.js';
import { flashMlaWithKvcache } from '../../src/attention/flash-mla-with-kvcache.js';
import { gqaDecodeWithKvcache } from '../../src/attention/gqa-decode-with-kvcache.js';
import { getMlaMetadata } from '../../src/attention/get-mla-metadata.js';
import { writeKv } from '../../src/attention/write-kv.js';

/** A device tensor description, as a CUDA tensor class would provide. */
class FakeDeviceTensor implements TensorLike {
  readonly location = 'cuda' as const;
  readonly strides: number[];
  constructor(
    readonly dtype: TensorLike['dtype'],
    readonly shape: number[],
  ) {
    this.strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, s) => a * s, 1));
  }
  toHost(): Tensor {
    throw new Error('a fake device tensor has no contents');
  }
}

test('the CPU backend serves host tensors from the start', () => {
  assert.equal(backendFor('host', 'q'), cpuBackend);
});

test('no backend for device tensors until one registers: BackendUnavailableError', () => {
  assert.throws(
    () => backendFor('cuda', 'q'),
    (e) => e instanceof BackendUnavailableError && e.backend === 'cuda' && e.message.includes('q'),
  );
  const seqlens = new FakeDeviceTensor('int32', [2]);
  assert.throws(
    () => getMlaMetadata(seqlens, 16, 1),
    (e) => e instanceof BackendUnavailableError,
  );
});

test('tensors of mixed locations are an ArgumentError naming the odd one', () => {
  const host = Tensor.from([1, 2], [2], 'int32');
  const device = new FakeDeviceTensor('int32', [2]);
  assert.throws(
    () => backendForTensors({ cacheSeqlens: host, numSplits: device }),
    (e) => e instanceof ArgumentError && e.argument === 'numSplits',
  );
});

test('a registered device backend receives device tensors through the public functions', () => {
  const calls: string[] = [];
  const metadata: MlaMetadata<FakeDeviceTensor> = {
    tileSchedulerMetadata: new FakeDeviceTensor('int32', [132, 8]),
    numSplits: new FakeDeviceTensor('int32', [3]),
  };
  const result = {
    out: new FakeDeviceTensor('bfloat16', [2, 1, 16, 512]),
    lse: new FakeDeviceTensor('float32', [2, 16, 1]),
  };
  let seenOptions: Required<DecodeOptions> | undefined;
  const fake: Backend<FakeDeviceTensor> = {
    name: 'cuda',
    getMlaMetadata: (_s, n, h, numSms) => {
      calls.push(`metadata ${n} ${h} ${numSms}`);
      return metadata;
    },
    mlaDecode: (_q, _k, _bt, _s, headDimV, md, options) => {
      calls.push(`mla ${headDimV} ${md === metadata || md.numSplits === metadata.numSplits}`);
      seenOptions = options;
      return result;
    },
    gqaDecode: () => {
      calls.push('gqa');
      return result;
    },
    writeKv: () => {
      calls.push('writeKv');
    },
  };
  registerBackend(fake);

  const seqlens = new FakeDeviceTensor('int32', [2]);
  const md = getMlaMetadata(seqlens, 16, 1);
  assert.equal(md, metadata);
  const q = new FakeDeviceTensor('bfloat16', [2, 1, 16, 576]);
  const kv = new FakeDeviceTensor('bfloat16', [10, 64, 1, 576]);
  const table = new FakeDeviceTensor('int32', [2, 4]);
  const r = flashMlaWithKvcache(
    q,
    kv,
    table,
    seqlens,
    512,
    md.tileSchedulerMetadata,
    md.numSplits,
    {
      causal: true,
    },
  );
  assert.equal(r, result);
  assert.deepEqual(seenOptions, { softmaxScale: 1 / Math.sqrt(576), causal: true });

  const gq = new FakeDeviceTensor('bfloat16', [2, 1, 16, 128]);
  const gk = new FakeDeviceTensor('bfloat16', [10, 16, 4, 128]);
  gqaDecodeWithKvcache(gq, gk, gk, table, seqlens, md.tileSchedulerMetadata, md.numSplits);
  writeKv(gk, new FakeDeviceTensor('bfloat16', [3, 4, 128]), new FakeDeviceTensor('int32', [3]));
  assert.deepEqual(calls, ['metadata 16 1 132', 'mla 512 true', 'gqa', 'writeKv']);

  // Shape validation still runs before a device backend sees anything.
  assert.throws(
    () => flashMlaWithKvcache(q, kv, table, seqlens, 600, md.tileSchedulerMetadata, md.numSplits),
    (e) => e instanceof ArgumentError && e.argument === 'headDimV',
  );
  assert.equal(calls.length, 4);
});
