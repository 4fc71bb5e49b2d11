// Device tensors, streams, events and graphs through the binding.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flashMlaWithKvcache } from '../../src/attention/flash-mla-with-kvcache.js';
import { getMlaMetadata } from '../../src/attention/get-mla-metadata.js';
import { writeKv } from '../../src/attention/write-kv.js';
import { CudaGraph } from '../../src/backend/cuda/cuda-graph.js';
import { CudaTensor } from '../../src/backend/cuda/cuda-tensor.js';
import { CudaEvent, CudaStream, cudaDeviceInfo } from '../../src/backend/cuda/runtime.js';
import { ArgumentError } from '../../src/errors.js';
import { Tensor } from '../../src/tensor.js';
import { applyPageCopies } from '../../src/kvcache/page-copies.js';
import { makeMlaProblem } from '../../src/testing/problems.js';
import { DeviceScope, skipWithoutGpu } from './gpu.js';

test('host -> device -> host round trip keeps every bit', { skip: skipWithoutGpu }, () => {
  for (const dtype of ['float32', 'bfloat16', 'float16', 'int32'] as const) {
    const values = Array.from({ length: 1000 }, (_, i) => ((i * 7919) % 1013) - 500);
    const host = Tensor.from(values, [10, 100], dtype);
    using d = CudaTensor.fromHost(host);
    assert.equal(d.location, 'cuda');
    assert.deepEqual(d.toHost().data, host.data);
  }
});

test('dispose frees once; use after dispose throws', { skip: skipWithoutGpu }, () => {
  const t = CudaTensor.empty([16], 'float32');
  t.dispose();
  t.dispose();
  assert.ok(t.disposed);
  assert.throws(() => t.toHost(), /after dispose/);
});

test('device info names the GPU', { skip: skipWithoutGpu }, () => {
  const info = cudaDeviceInfo();
  assert.ok(info.smCount > 0);
  assert.ok(info.name.length > 0);
});

test('events time work on a stream', { skip: skipWithoutGpu }, () => {
  using stream = CudaStream.create();
  using a = CudaTensor.empty([1 << 24], 'float32');
  using b = CudaTensor.empty([1 << 24], 'float32');
  using start = CudaEvent.create();
  using end = CudaEvent.create();
  start.record(stream);
  b.copyFrom(a, stream);
  end.record(stream);
  end.synchronize();
  const ms = end.elapsedSince(start);
  assert.ok(ms > 0 && ms < 1000, `${ms} ms`);
});

test('a wrong preallocated output is an ArgumentError', { skip: skipWithoutGpu }, () => {
  using scope = new DeviceScope();
  const p = makeMlaProblem({ b: 2, sK: 100, sQ: 1, hQ: 16, pageSize: 64, seed: 9 });
  const lens = scope.upload(p.cacheSeqlens);
  const meta = getMlaMetadata(lens, 16, 1);
  scope.own(meta.tileSchedulerMetadata as CudaTensor);
  scope.own(meta.numSplits as CudaTensor);
  const badOut = scope.own(CudaTensor.empty([2, 1, 16, 256], 'bfloat16'));
  assert.throws(
    () =>
      flashMlaWithKvcache(
        scope.upload(p.q),
        scope.upload(p.kvCache),
        scope.upload(p.blockTable),
        lens,
        512,
        meta.tileSchedulerMetadata,
        meta.numSplits,
        { out: badOut },
      ),
    (e) => e instanceof ArgumentError && e.argument === 'out.shape',
  );
});

test(
  'a captured decode step replays with new lengths like direct calls',
  { skip: skipWithoutGpu },
  () => {
    using scope = new DeviceScope();
    using stream = CudaStream.create();
    const first = makeMlaProblem({
      seqlens: [100, 700, 33],
      sQ: 1,
      hQ: 16,
      pageSize: 64,
      seed: 11,
      extraPages: 4,
    });
    const q = scope.upload(first.q);
    const kv = scope.upload(first.kvCache);
    const table = scope.upload(first.blockTable);
    const lens = scope.upload(first.cacheSeqlens);
    // Everything the captured step touches is allocated before the capture and keeps its address.
    const into = getMlaMetadata(lens, 16, 1, { stream });
    scope.own(into.tileSchedulerMetadata);
    scope.own(into.numSplits);
    const out = scope.own(CudaTensor.empty([3, 1, 16, 512], 'bfloat16'));
    const lse = scope.own(CudaTensor.empty([3, 16, 1], 'float32'));
    const workspace = scope.own(CudaTensor.empty([1 << 22], 'int32'));
    const step = (): void => {
      const m = getMlaMetadata(lens, 16, 1, { stream, into });
      flashMlaWithKvcache(q, kv, table, lens, 512, m.tileSchedulerMetadata, m.numSplits, {
        stream,
        out,
        lse,
        workspace,
      });
    };
    using graph = CudaGraph.capture(stream, step);
    // New lengths up to the original ones (rows past those hold NaN poison, which must stay unread).
    for (const newLens of [
      [100, 700, 33],
      [64, 1, 33],
      [0, 650, 1],
      [99, 129, 0],
    ]) {
      lens.copyFromHost(Tensor.from(newLens, [3], 'int32'), stream);
      out.fillBytes(0xff, stream);
      graph.launch(stream);
      const replayed = out.toHost(stream).data.slice();
      const replayedLse = lse.toHost(stream).data.slice();
      out.fillBytes(0xff, stream);
      step();
      assert.deepEqual(out.toHost(stream).data, replayed, `lengths [${newLens}]`);
      assert.deepEqual(lse.toHost(stream).data, replayedLse, `lengths [${newLens}]`);
      assert.ok(
        !Array.from(out.toHost(stream).toFloat32()).some(Number.isNaN),
        'every output written',
      );
    }
  },
);

test('the engine loop example runs on the GPU', { skip: skipWithoutGpu }, async () => {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const example = fileURLToPath(new URL('../../examples/ts/engine-loop.js', import.meta.url));
  const r = spawnSync(process.execPath, [example, '--cuda', '--steps', '20', '--requests', '4'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /done: 4 requests finished, 0 pages still in use/);
});

test('device page copies match host page copies', { skip: skipWithoutGpu }, () => {
  const host = Tensor.from(
    Array.from({ length: 6 * 4 * 8 }, (_, i) => i),
    [6, 4, 1, 8],
    'float32',
  );
  using device = CudaTensor.fromHost(host);
  const copies = [
    { srcPage: 0, dstPage: 5, rows: 3 },
    { srcPage: 2, dstPage: 1, rows: 4 },
  ];
  device.copyPages(copies);
  applyPageCopies(host, copies);
  assert.deepEqual(device.toHost().data, host.data);
});

test(
  'every function that takes tensors rejects a disposed one by name',
  { skip: skipWithoutGpu },
  () => {
    using scope = new DeviceScope();
    const p = makeMlaProblem({ b: 2, sK: 100, sQ: 1, hQ: 16, pageSize: 64, seed: 9 });
    const lens = scope.upload(p.cacheSeqlens);
    const meta = getMlaMetadata(lens, 16, 1);
    scope.own(meta.tileSchedulerMetadata);
    scope.own(meta.numSplits);
    const q = CudaTensor.fromHost(p.q);
    q.dispose();
    const isDisposed = (argument: string) => (e: unknown) =>
      e instanceof ArgumentError && e.argument === argument && /disposed/.test(e.message);
    const kv = scope.upload(p.kvCache);
    const table = scope.upload(p.blockTable);
    assert.throws(
      () =>
        flashMlaWithKvcache(q, kv, table, lens, 512, meta.tileSchedulerMetadata, meta.numSplits),
      isDisposed('q'),
    );
    const gone = CudaTensor.fromHost(p.cacheSeqlens);
    gone.dispose();
    assert.throws(() => getMlaMetadata(gone, 16, 1), isDisposed('cacheSeqlens'));
    assert.throws(() => gone.toHost(), isDisposed('tensor'));
    assert.throws(() => lens.copyFrom(gone), isDisposed('src'));
    const rows = CudaTensor.fromHost(Tensor.zeros([1, 1, 576], 'bfloat16'));
    rows.dispose();
    const slots = scope.upload(Tensor.from([0], [1], 'int32'));
    assert.throws(() => writeKv(kv, rows, slots), isDisposed('rows'));
  },
);
