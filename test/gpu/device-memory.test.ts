// Device allocation failures: a typed error with the numbers, and forgotten tensors freed under
// device-memory pressure rather than only when the JavaScript heap happens to be collected.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CudaTensor } from '../../src/backend/cuda/cuda-tensor.js';
import { cudaDeviceInfo } from '../../src/backend/cuda/runtime.js';
import { NativeError, OutOfDeviceMemoryError } from '../../src/errors.js';
import { skipWithoutGpu } from './gpu.js';

const GIB = 2 ** 30;

/** Filling the device would make GPU tests running beside this one fail: they run alone, on request. */
const skipUnlessExclusive =
  skipWithoutGpu ||
  (process.env.FLASH_MLA_TS_EXCLUSIVE_GPU === '1'
    ? false
    : 'fills device memory: run alone with FLASH_MLA_TS_EXCLUSIVE_GPU=1');

test(
  'an allocation larger than the device is an OutOfDeviceMemoryError',
  { skip: skipWithoutGpu },
  () => {
    const total = cudaDeviceInfo().totalMemoryBytes;
    const elements = 2 ** Math.ceil(Math.log2(total / 4) + 1); // float32: at least twice the device
    assert.throws(
      () => CudaTensor.empty([elements], 'float32'),
      (e: unknown) =>
        e instanceof OutOfDeviceMemoryError &&
        e instanceof NativeError &&
        e.bytesRequested === elements * 4 &&
        e.bytesTotal === total &&
        e.bytesFree > 0 &&
        e.bytesFree <= total &&
        e.message.includes(`asked for ${elements * 4} bytes`),
    );
    // The failure left nothing behind: a normal allocation still works.
    using t = CudaTensor.empty([1024], 'float32');
    assert.equal(t.byteLength, 4096);
  },
);

test(
  'tensors dropped without dispose() are freed when the device runs short',
  { skip: skipUnlessExclusive, timeout: 300_000 },
  async () => {
    const total = cudaDeviceInfo().totalMemoryBytes;
    const count = Math.ceil((1.5 * total) / GIB);
    for (let i = 0; i < count; i++) {
      // Forgotten at once; each iteration is a separate turn of the event loop, as in a server.
      CudaTensor.empty([GIB / 4], 'float32');
      await nextTurn();
    }
    using t = CudaTensor.empty([GIB / 4], 'float32');
    assert.equal(t.byteLength, GIB);
  },
);

test(
  'memory held by tensors dropped in the same synchronous run is reported, then freed',
  { skip: skipUnlessExclusive, timeout: 300_000 },
  async () => {
    const total = cudaDeviceInfo().totalMemoryBytes;
    let failure: unknown;
    let allocated = 0;
    try {
      for (let i = 0; i < Math.ceil((1.5 * total) / GIB); i++) {
        CudaTensor.empty([GIB / 4], 'float32');
        allocated++;
      }
    } catch (error) {
      failure = error;
    }
    assert.ok(failure instanceof OutOfDeviceMemoryError, String(failure));
    assert.ok(allocated > 0);
    assert.ok(failure.bytesHeldUndisposed >= allocated * GIB, failure.message);
    assert.match(failure.message, /not yet disposed/);
    await nextTurn();
    // Back in the event loop, the collector can see they are gone: the next shortage frees them.
    for (let i = 0; i < allocated; i++) {
      CudaTensor.empty([GIB / 4], 'float32');
      await nextTurn();
    }
  },
);
