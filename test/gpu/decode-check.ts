/**
 * Runs a decode problem on the GPU through the public API, with poisoned (NaN) preallocated
 * outputs, and measures it against a reference: the float64 CPU reference on small problems, the
 * float32 device reference on large ones. With `fp8`, the caches go to the GPU in that format
 * (fp8_e4m3: one scale a tensor; fp8_ds_mla: MLA only), and the CPU reference attends their
 * dequantized values.
 */
import { flashMlaWithKvcache } from '../../src/attention/flash-mla-with-kvcache.js';
import { getMlaMetadata } from '../../src/attention/get-mla-metadata.js';
import { gqaDecodeWithKvcache } from '../../src/attention/gqa-decode-with-kvcache.js';
import { CudaTensor } from '../../src/backend/cuda/cuda-tensor.js';
import { referenceDecodeOnDevice } from '../../src/backend/cuda/device-testing.js';
import { naiveGqaDecode, naiveMlaDecode } from '../../src/reference/naive-attention.js';
import assert from 'node:assert/strict';
import { compareOutputs } from '../../src/testing/compare.js';
import type { Fp8CacheFormat } from '../../src/fp8/cache-formats.js';
import { dsMlaOf, e4m3Of, type E4m3Tensor, type Fp8Tensor } from '../../src/testing/fp8-caches.js';
import type { Tensor } from '../../src/tensor.js';
import { gatherQueryRows, queryRows } from '../../src/testing/query-rows.js';
import type { GqaProblem, MlaProblem } from '../../src/testing/problems.js';
import { DeviceScope } from './gpu.js';

export interface GpuCheck {
  /** ||out - ref|| / ||ref||. */
  readonly outRelativeError: number;
  readonly lseMaxAbsError: number;
  /** The output as the GPU wrote it, in the decode's layout. */
  readonly out: Float32Array;
  /** Outputs still NaN (the poison) after the call. */
  readonly unwritten: number;
  /** Rows whose lse is +inf in both (no key attended). */
  readonly emptyRows: number;
  readonly splits: number;
}

/**
 * A problem's lengths on the device, their schedule and NaN-poisoned out / lse of the decode's
 * shapes, all owned by `scope`: what a decode call writes into, or must leave alone when refused.
 */
export function scheduledWithPoisonedOutputs(
  scope: DeviceScope,
  p: MlaProblem | GqaProblem,
  numSms?: number,
) {
  const [b, sQ, hQ] = p.q.shape;
  const hKv = ('kvCache' in p ? p.kvCache : p.kCache).shape[2];
  const dV = 'kvCache' in p ? p.headDimV : p.vCache.shape[3];
  const cacheSeqlens = scope.upload(p.cacheSeqlens);
  const meta = getMlaMetadata(cacheSeqlens, (sQ * hQ) / hKv, hKv, { numSms });
  scope.own(meta.tileSchedulerMetadata as CudaTensor);
  scope.own(meta.numSplits as CudaTensor);
  const out = scope.own(CudaTensor.empty([b, sQ, hQ, dV], p.q.dtype));
  const lse = scope.own(CudaTensor.empty([b, hQ, sQ], 'float32'));
  out.fillBytes(0xff);
  lse.fillBytes(0xff);
  return { cacheSeqlens, meta, out, lse };
}

export function checkOnGpu(
  p: MlaProblem | GqaProblem,
  options: {
    causal: boolean;
    softmaxScale?: number;
    numSms?: number;
    reference: 'cpu' | 'device';
    fp8?: Fp8CacheFormat;
    /** fp8_e4m3 caches: the queries as float8_e4m3fn too (descaleQ; the reference reads theirs). */
    e4m3Queries?: boolean;
  },
): GpuCheck {
  using scope = new DeviceScope();
  const mla = 'kvCache' in p;
  const [b, sQ, hQ, dQk] = p.q.shape;
  const kHost = mla ? p.kvCache : p.kCache;
  const dV = mla ? p.headDimV : p.vCache.shape[3];
  if (options.fp8 && options.reference !== 'cpu') throw new Error('fp8: the CPU reference only');
  const quantize = (t: Tensor): Fp8Tensor =>
    options.fp8 === 'fp8_ds_mla' ? dsMlaOf(t) : e4m3Of(t);
  const fp8: { k: Fp8Tensor; v?: E4m3Tensor } | undefined = options.fp8
    ? { k: quantize(kHost), v: mla ? undefined : e4m3Of(p.vCache) }
    : undefined;
  const q8 = options.e4m3Queries ? e4m3Of(p.q) : undefined;
  const qHost = q8 ? q8.dequantized : p.q;
  const q = scope.upload(q8 ? q8.fp8 : p.q);
  const k = scope.upload(fp8 ? fp8.k.fp8 : kHost);
  const v = mla ? undefined : scope.upload(fp8?.v ? fp8.v.fp8 : p.vCache);
  const blockTable = scope.upload(p.blockTable);
  const { cacheSeqlens, meta, out, lse } = scheduledWithPoisonedOutputs(scope, p, options.numSms);
  const exec = {
    causal: options.causal,
    softmaxScale: options.softmaxScale,
    out,
    lse,
    checkContents: true,
    ...(options.fp8 === 'fp8_ds_mla' && { isFp8Kvcache: true }),
    ...(options.fp8 === 'fp8_e4m3' && { descaleK: scope.upload((fp8?.k as E4m3Tensor).descale) }),
    ...(fp8?.v && { descaleV: scope.upload(fp8.v.descale) }),
    ...(q8 && { descaleQ: scope.upload(q8.descale) }),
  };
  if (v) {
    gqaDecodeWithKvcache(
      q,
      k,
      v,
      blockTable,
      cacheSeqlens,
      meta.tileSchedulerMetadata,
      meta.numSplits,
      exec,
    );
  } else {
    flashMlaWithKvcache(
      q,
      k,
      blockTable,
      cacheSeqlens,
      dV,
      meta.tileSchedulerMetadata,
      meta.numSplits,
      exec,
    );
  }
  const gotOut = out.toHost().toFloat32();
  const gotLse = lse.toHost().toFloat32();

  // Compared in the decode's layout with the CPU reference; in the order of the requested rows
  // (every row, (batch, token, head)) with the device reference.
  let got: { out: ArrayLike<number>; lse: ArrayLike<number> } = { out: gotOut, lse: gotLse };
  let ref: { out: ArrayLike<number>; lse: ArrayLike<number> };
  if (options.reference === 'cpu') {
    const o = { causal: options.causal, softmaxScale: options.softmaxScale };
    ref = mla
      ? naiveMlaDecode(qHost, fp8 ? fp8.k.dequantized : kHost, p.blockTable, p.cacheSeqlens, dV, o)
      : naiveGqaDecode(
          qHost,
          fp8 ? fp8.k.dequantized : kHost,
          fp8?.v ? fp8.v.dequantized : p.vCache,
          p.blockTable,
          p.cacheSeqlens,
          o,
        );
  } else {
    const rows = queryRows(b, sQ, hQ);
    const onDevice = referenceDecodeOnDevice(
      q,
      k,
      v,
      blockTable,
      cacheSeqlens,
      dV,
      options.softmaxScale ?? 1 / Math.sqrt(dQk),
      options.causal,
      rows,
    );
    scope.own(onDevice.out);
    scope.own(onDevice.lse);
    ref = { out: onDevice.out.toHost().toFloat32(), lse: onDevice.lse.toHost().toFloat32() };
    got = gatherQueryRows(gotOut, gotLse, rows, { sQ, hQ, dV });
  }

  let unwritten = 0;
  for (const x of gotOut) if (Number.isNaN(x)) unwritten++;
  for (const x of gotLse) if (Number.isNaN(x)) unwritten++;
  let emptyRows = 0;
  for (let i = 0; i < got.lse.length; i++)
    if (got.lse[i] === Infinity && ref.lse[i] === Infinity) emptyRows++;
  return {
    out: gotOut,
    outRelativeError: compareOutputs(got.out, ref.out).relativeError,
    lseMaxAbsError: compareOutputs(got.lse, ref.lse).maxAbsError,
    unwritten,
    emptyRows,
    splits: meta.numSplits.toHost().data[b],
  };
}

// bf16 inputs, float32 accumulation, probabilities rounded to 16 bits for the tensor cores: the
// output's relative error against the reference is a few 1e-3.
const MAX_OUT_RELATIVE_ERROR = 1e-2;
const MAX_LSE_ABS_ERROR = 1e-3;

/** Every element written, out and lse within bounds, and empty sequences seen as such. */
export function assertGpuCheck(r: GpuCheck, hasEmptySequences: boolean): void {
  assert.equal(r.unwritten, 0, 'every output element written');
  assert.ok(
    r.outRelativeError < MAX_OUT_RELATIVE_ERROR,
    `out relative error ${r.outRelativeError}`,
  );
  assert.ok(r.lseMaxAbsError < MAX_LSE_ABS_ERROR, `lse error ${r.lseMaxAbsError}`);
  if (hasEmptySequences) assert.ok(r.emptyRows > 0, 'empty sequences give lse = +inf');
}
