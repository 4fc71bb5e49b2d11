/**
 * Device-side helpers for tests and benchmarks on large shapes (csrc/include/flash_mla_testing.h):
 * a seeded random fill, the float32 reference decode, and a spin that hides launch overhead.
 */
import { Tensor } from '../../tensor.js';
import { CudaTensor } from './cuda-tensor.js';
import { CudaStream, nativeLibrary } from './runtime.js';

/** t = clamp(scale * N(0, 1), -limit, limit), the same for the same seed on any device. */
export function fillNormalOnDevice(
  t: CudaTensor,
  seed: number,
  { scale = 0.1, limit = 1, stream = CudaStream.legacyDefault } = {},
): void {
  nativeLibrary().call(
    'testingFillNormal',
    t.descriptor(),
    BigInt(seed),
    scale,
    limit,
    stream.handle,
  );
}

/**
 * The float32 reference decode (csrc/reference) of the query rows listed as (batch, token, head)
 * triples in `rows`: MLA when `vCache` is undefined (values are the first headDimV entries of each
 * key). Returns, on the device, out [n, d_v] and lse [n], in the order of `rows`.
 */
export function referenceDecodeOnDevice(
  q: CudaTensor,
  kCache: CudaTensor,
  vCache: CudaTensor | undefined,
  blockTable: CudaTensor,
  cacheSeqlens: CudaTensor,
  headDimV: number,
  softmaxScale: number,
  causal: boolean,
  rows: Int32Array,
  stream: CudaStream = CudaStream.legacyDefault,
): { out: CudaTensor; lse: CudaTensor } {
  const n = rows.length / 3;
  using rowsOnDevice = CudaTensor.fromHost(Tensor.from(rows, [n, 3], 'int32'), stream);
  const out = CudaTensor.empty([n, headDimV], 'float32');
  const lse = CudaTensor.empty([n], 'float32');
  nativeLibrary().call(
    'referenceAttention',
    q.descriptor(),
    kCache.descriptor(),
    vCache?.descriptor() ?? null,
    headDimV,
    blockTable.descriptor(),
    cacheSeqlens.descriptor(),
    softmaxScale,
    causal ? 1 : 0,
    rowsOnDevice.descriptor(),
    out.descriptor(),
    lse.descriptor(),
    stream.handle,
  );
  stream.synchronize(); // the rows tensor is freed on return
  return { out, lse };
}

/** Keeps the device busy for about `microseconds`, so that launches queued behind it start at once. */
export function spinOnDevice(
  microseconds: number,
  stream: CudaStream = CudaStream.legacyDefault,
): void {
  nativeLibrary().call('testingSpin', BigInt(Math.round(microseconds * 1000)), stream.handle);
}
