// Wrong-typed arguments of the CUDA runtime functions are rejected before the native library is
// loaded or called, so these run (and must pass) with or without a GPU or a built library.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CudaGraph } from '../../../src/backend/cuda/cuda-graph.js';
import { CudaTensor } from '../../../src/backend/cuda/cuda-tensor.js';
import {
  CudaStream,
  cudaDeviceInfo,
  setCudaDevice,
  streamHandle,
} from '../../../src/backend/cuda/runtime.js';
import { ArgumentError } from '../../../src/errors.js';
import { Tensor } from '../../../src/tensor.js';

const isArg = (argument: string, actual?: RegExp) => (e: unknown) =>
  e instanceof ArgumentError && e.argument === argument && (!actual || actual.test(e.actual));

test('device indices are checked before any native call', () => {
  assert.throws(() => setCudaDevice('x' as never), isArg('index', /^"x" \(string\)$/));
  assert.throws(() => setCudaDevice(-1), isArg('index', /^-1$/));
  assert.throws(() => setCudaDevice(0.5), isArg('index'));
  assert.throws(() => cudaDeviceInfo(NaN), isArg('index', /NaN/));
});

test('device tensors check shape, dtype and host tensors before allocating', () => {
  assert.throws(() => CudaTensor.empty('x' as never, 'float32'), isArg('shape'));
  assert.throws(() => CudaTensor.empty([-2], 'float32'), isArg('shape[0]'));
  assert.throws(() => CudaTensor.empty([2 ** 30, 2 ** 30], 'float32'), isArg('shape'));
  assert.throws(() => CudaTensor.empty([1, 1, 1, 1, 1, 1, 1], 'float32'), isArg('shape'));
  assert.throws(() => CudaTensor.empty([4], 'float64' as never), isArg('dtype'));
  assert.throws(() => CudaTensor.fromHost(null as never), isArg('host', /null/));
  const host = Tensor.zeros([2], 'int32');
  assert.throws(() => CudaTensor.fromHost(host, 'stream' as never), isArg('stream'));
});

test('streams and graph capture are checked before any native call', () => {
  assert.throws(() => streamHandle('default'), isArg('stream', /"default"/));
  assert.equal(typeof streamHandle(undefined), typeof streamHandle(CudaStream.legacyDefault));
  assert.throws(
    () => CudaGraph.capture(CudaStream.legacyDefault, () => {}),
    isArg('stream', /legacyDefault/),
  );
  assert.throws(() => CudaGraph.capture(undefined as never, () => {}), isArg('stream'));
  assert.throws(() => CudaGraph.capture({} as never, () => {}), isArg('stream'));
});
