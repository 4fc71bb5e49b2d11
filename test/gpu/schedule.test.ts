// The device schedule must be bit-identical to the CPU schedule (docs/schedule.md) for any lengths.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getMlaMetadata } from '../../src/attention/get-mla-metadata.js';
import type { CudaTensor } from '../../src/backend/cuda/cuda-tensor.js';
import { Tensor } from '../../src/tensor.js';
import { Random } from '../../src/testing/random.js';
import { DeviceScope, skipWithoutGpu } from './gpu.js';

test(
  'device and CPU schedules are identical on random length sets',
  { skip: skipWithoutGpu },
  () => {
    const rng = new Random(20261125);
    let cases = 0;
    for (let k = 0; k < 300; k++) {
      using scope = new DeviceScope();
      const b = rng.int(1, k < 250 ? 40 : 600);
      const maxLen = [1, 64, 1000, 70000][rng.int(0, 4)];
      const lens = Array.from({ length: b }, () =>
        rng.uniform() < 0.15 ? 0 : rng.int(0, maxLen + 1),
      );
      const hKv = [1, 1, 2, 8][rng.int(0, 4)];
      const qTokens = [16, 32, 64, 128, 256, 512][rng.int(0, 6)];
      const numSms = [132, 132, 1, 7, 114][rng.int(0, 5)];
      const hostLens = Tensor.from(lens, [b], 'int32');
      const cpu = getMlaMetadata(hostLens, qTokens, hKv, { numSms });
      const gpu = getMlaMetadata(scope.upload(hostLens), qTokens, hKv, { numSms });
      scope.own(gpu.tileSchedulerMetadata as CudaTensor);
      scope.own(gpu.numSplits as CudaTensor);
      const what = `lengths [${lens}], qTokens ${qTokens}, hKv ${hKv}, numSms ${numSms}`;
      assert.deepEqual(
        gpu.tileSchedulerMetadata.toHost().data,
        cpu.tileSchedulerMetadata.data,
        what,
      );
      assert.deepEqual(gpu.numSplits.toHost().data, cpu.numSplits.data, what);
      cases++;
    }
    assert.equal(cases, 300);
  },
);

test('the device schedule defaults to the device SM count', { skip: skipWithoutGpu }, async () => {
  const { cudaDeviceInfo } = await import('../../src/backend/cuda/runtime.js');
  using scope = new DeviceScope();
  const lens = Tensor.from([5000, 17, 0, 90000], [4], 'int32');
  const gpu = getMlaMetadata(scope.upload(lens), 128, 1);
  scope.own(gpu.tileSchedulerMetadata as CudaTensor);
  scope.own(gpu.numSplits as CudaTensor);
  const cpu = getMlaMetadata(lens, 128, 1, { numSms: cudaDeviceInfo().smCount });
  assert.deepEqual(gpu.tileSchedulerMetadata.toHost().data, cpu.tileSchedulerMetadata.data);
});
