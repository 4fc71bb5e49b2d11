/**
 * Device-side helpers for tests and benchmarks on large shapes (csrc/include/flash_mla_testing.h):
 * a seeded random fill, and a plain float32 reference decode to check the fast kernels against.
 */
import { CudaTensor } from './cuda-tensor.js';
import { CudaStream, nativeLibrary } from './runtime.js';

/** t = clamp(scale * N(0, 1), -limit, limit), the same for the same seed on any device. */
export function fillNormalOnDevice(
  t: CudaTensor,
  seed: number,
  { scale = 0.1, limit = 1, stream = CudaStream.legacyDefault } = {},
): void {
  nativeLibrary().call('testingFillNormal', t.descriptor(), BigInt(seed), scale, limit, stream.handle);
}

/**
 * Reference decode in float32 (MLA when vCache is kCache). Returns float32 out [b, s_q, h_q, d_v] and
 * lse [b, h_q, s_q] on the device.
 */
export function referenceDecodeOnDevice(
  q: CudaTensor,
  kCache: CudaTensor,
  vCache: CudaTensor,
  blockTable: CudaTensor,
  cacheSeqlens: CudaTensor,
  headDimV: number,
  softmaxScale: number,
  causal: boolean,
  stream: CudaStream = CudaStream.legacyDefault,
): { out: CudaTensor; lse: CudaTensor } {
  const [b, sQ, hQ] = q.shape;
  const out = CudaTensor.empty([b, sQ, hQ, headDimV], 'float32');
  const lse = CudaTensor.empty([b, hQ, sQ], 'float32');
  nativeLibrary().call(
    'testingReferenceDecode',
    q.descriptor(),
    kCache.descriptor(),
    vCache.descriptor(),
    blockTable.descriptor(),
    cacheSeqlens.descriptor(),
    headDimV,
    softmaxScale,
    causal ? 1 : 0,
    out.descriptor(),
    lse.descriptor(),
    stream.handle,
  );
  return { out, lse };
}

/** Keeps the device busy for about `microseconds`, so that launches queued behind it start at once. */
export function spinOnDevice(microseconds: number, stream: CudaStream = CudaStream.legacyDefault): void {
  nativeLibrary().call('testingSpin', BigInt(Math.round(microseconds * 1000)), stream.handle);
}
