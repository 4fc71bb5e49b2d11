/**
 * Benchmark-sized decode problems built on the device: the layout (lengths, permuted pages, block
 * table) from the test kit, the cache and queries filled by the device's random fill, since host
 * generation of gigabytes would take minutes.
 */
import { CudaTensor } from '../backend/cuda/cuda-tensor.js';
import { fillNormalOnDevice } from '../backend/cuda/device-testing.js';
import type { CudaStream } from '../backend/cuda/runtime.js';
import type { NarrowFloatDType } from '../dtype.js';
import { makePagedLayout, type PagedLayout } from '../testing/paged-layout.js';
import { Random, sequenceLengths } from '../testing/random.js';

export interface DeviceProblemSpec {
  readonly b: number;
  readonly sQ: number;
  readonly sK: number;
  readonly hQ: number;
  readonly hKv: number;
  readonly dQk: number;
  /** Separate K and V caches (GQA) of head dim dQk, or one shared cache (MLA). */
  readonly separateV: boolean;
  readonly pageSize: number;
  readonly varlen: boolean;
  readonly lengths?: readonly number[];
  readonly dtype: NarrowFloatDType;
  readonly seed: number;
}

/** One copy of a problem's data on the device. Several copies rotate so timings are not L2 hits. */
export interface DeviceProblemCopy {
  readonly q: CudaTensor;
  readonly kCache: CudaTensor;
  readonly vCache: CudaTensor;
  readonly blockTable: CudaTensor;
}

export interface DeviceProblem {
  readonly layout: PagedLayout;
  readonly seqlens: readonly number[];
  readonly meanLen: number;
  readonly cacheSeqlens: CudaTensor;
  readonly copies: readonly DeviceProblemCopy[];
  /** Bytes of KV cache one call reads (the attended rows only). */
  readonly cacheBytesPerCall: number;
  dispose(): void;
}

/** L2 of an H100 is 50 MB; rotated data must be at least four times that. */
export const ROTATION_MIN_BYTES = 200e6;

export function makeDeviceProblem(spec: DeviceProblemSpec, stream: CudaStream): DeviceProblem {
  const rng = new Random(spec.seed);
  const seqlens = spec.lengths ?? sequenceLengths(rng, spec.b, spec.sK, spec.sQ, spec.varlen);
  const meanLen = seqlens.reduce((a, l) => a + l, 0) / seqlens.length;
  const tokens = seqlens.reduce((a, l) => a + l, 0);
  const caches = spec.separateV ? 2 : 1;
  const cacheBytesPerCall = tokens * spec.hKv * spec.dQk * 2 * caches;
  const numCopies = Math.max(1, Math.ceil(ROTATION_MIN_BYTES / Math.max(1, cacheBytesPerCall)));

  const owned: CudaTensor[] = [];
  const keep = (t: CudaTensor): CudaTensor => (owned.push(t), t);
  const first = makePagedLayout(rng, { seqlens, pageSize: spec.pageSize, extraPages: 0 });
  const cacheSeqlens = keep(CudaTensor.fromHost(first.cacheSeqlens, stream));
  const copies: DeviceProblemCopy[] = [];
  for (let c = 0; c < numCopies; c++) {
    const layout =
      c === 0 ? first : makePagedLayout(rng, { seqlens, pageSize: spec.pageSize, extraPages: 0 });
    const cacheShape = [layout.numPages, spec.pageSize, spec.hKv, spec.dQk];
    const q = keep(CudaTensor.empty([seqlens.length, spec.sQ, spec.hQ, spec.dQk], spec.dtype));
    const kCache = keep(CudaTensor.empty(cacheShape, spec.dtype));
    const vCache = spec.separateV ? keep(CudaTensor.empty(cacheShape, spec.dtype)) : kCache;
    const seed = spec.seed * 1000 + c * 10;
    fillNormalOnDevice(q, seed + 1, { stream });
    fillNormalOnDevice(kCache, seed + 2, { stream });
    if (vCache !== kCache) fillNormalOnDevice(vCache, seed + 3, { stream });
    copies.push({
      q,
      kCache,
      vCache,
      blockTable: keep(CudaTensor.fromHost(layout.blockTable, stream)),
    });
  }
  stream.synchronize();
  return {
    layout: first,
    seqlens,
    meanLen,
    cacheSeqlens,
    copies,
    cacheBytesPerCall,
    dispose: () => owned.forEach((t) => t.dispose()),
  };
}
