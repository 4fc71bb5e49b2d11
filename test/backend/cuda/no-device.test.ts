// Where the native library is built but no GPU can run it (CI), every entry point must fail with a
// typed error that says why, never crash the process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CudaStream } from '../../../src/backend/cuda/runtime.js';
import { CudaTensor } from '../../../src/backend/cuda/cuda-tensor.js';
import { findNativeLibrary } from '../../../src/backend/cuda/library-path.js';
import { probeCuda } from '../../../src/backend/cuda/probe.js';
import { BackendUnavailableError } from '../../../src/errors.js';

const built = findNativeLibrary().found;
const probe = probeCuda();

test('the probe explains a missing library', { skip: built && 'a native library is found' }, () => {
  assert.equal(probe.available, false);
  assert.ok(
    !probe.available &&
      /no native library found|FLASH_MLA_LIBRARY=.*: no such file/.test(probe.reason),
    JSON.stringify(probe),
  );
});

const noGpu = built && !probe.available;
test(
  'without a GPU, the built library loads and calls fail with BackendUnavailableError',
  {
    skip: !built
      ? 'no native library is found (npm run build:native)'
      : !noGpu && 'a GPU is present',
  },
  () => {
    assert.ok(!probe.available);
    assert.ok(probe.reason.length > 0);
    assert.doesNotMatch(probe.reason, /crashed/);
    assert.throws(() => CudaTensor.empty([4], 'float32'), BackendUnavailableError);
    assert.throws(() => CudaStream.create(), BackendUnavailableError);
  },
);
