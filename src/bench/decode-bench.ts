/**
 * One decode benchmark row on the GPU: build the data on the device, check the result against the
 * float32 reference kernel (outputs poisoned first, every element must be written), then time.
 */
import { flashMlaWithKvcache } from '../attention/flash-mla-with-kvcache.js';
import { getMlaMetadata } from '../attention/get-mla-metadata.js';
import { gqaDecodeWithKvcache } from '../attention/gqa-decode-with-kvcache.js';
import { CudaTensor } from '../backend/cuda/cuda-tensor.js';
import { referenceDecodeOnDevice } from '../backend/cuda/device-testing.js';
import type { CudaStream } from '../backend/cuda/runtime.js';
import { compareOutputs } from '../testing/compare.js';
import { gatherQueryRows, queryRows } from '../testing/query-rows.js';
import { Random } from '../testing/random.js';
import { timeDevice, type Timing } from './device-timing.js';
import {
  makeDeviceProblem,
  type DeviceProblemCopy,
  type DeviceProblemSpec,
} from './device-problem.js';
import { maxOf, minOf } from '../extremes.js';

export interface Correctness {
  /** ||out - ref|| / ||ref|| against the float32 reference. */
  readonly outRelativeError: number;
  readonly outMaxAbsError: number;
  readonly lseMaxAbsError: number;
  /** Output elements still holding the poison (NaN) after the call: must be 0. */
  readonly unwritten: number;
  /** Query rows compared with the reference. */
  readonly checkedRows: number;
  readonly pass: boolean;
}

export interface DecodeBenchResult {
  readonly seqlens: { readonly mean: number; readonly min: number; readonly max: number };
  readonly timing: Timing;
  readonly correctness: Correctness;
  readonly rotatedCopies: number;
}

/** bf16 output against a float32 reference: rounding alone gives ~2e-3 relative error. */
export const MAX_OUT_RELATIVE_ERROR = 1e-2;
const MAX_LSE_ABS_ERROR = 1e-3;

/** Query rows the reference checks: all of them when few, else 4 heads of every sequence and token. */
const MAX_CHECKED_ROWS = 4096;

function rowsToCheck(b: number, sQ: number, hQ: number, rng: Random): Int32Array {
  if (b * sQ * hQ <= MAX_CHECKED_ROWS) return queryRows(b, sQ, hQ);
  const middle = (): number => rng.int(1, Math.max(2, hQ - 1));
  return queryRows(b, sQ, hQ, [0, hQ - 1, middle(), middle()]);
}

export function benchDecode(
  kind: 'mla' | 'gqa',
  spec: DeviceProblemSpec & { readonly dV: number; readonly causal: boolean },
  stream: CudaStream,
): DecodeBenchResult {
  const problem = makeDeviceProblem(spec, stream);
  const owned: CudaTensor[] = [];
  try {
    const { b, sQ, hQ, hKv, dV, causal } = spec;
    const meta = getMlaMetadata(problem.cacheSeqlens, (sQ * hQ) / hKv, hKv, { stream });
    owned.push(meta.tileSchedulerMetadata as CudaTensor, meta.numSplits as CudaTensor);
    const out = CudaTensor.empty([b, sQ, hQ, dV], spec.dtype);
    const lse = CudaTensor.empty([b, hQ, sQ], 'float32');
    owned.push(out, lse);
    const exec = { causal, stream, out, lse };
    const run = (c: DeviceProblemCopy): void => {
      if (kind === 'mla') {
        flashMlaWithKvcache(
          c.q,
          c.kCache,
          c.blockTable,
          problem.cacheSeqlens,
          dV,
          meta.tileSchedulerMetadata,
          meta.numSplits,
          exec,
        );
      } else {
        gqaDecodeWithKvcache(
          c.q,
          c.kCache,
          c.vCache,
          c.blockTable,
          problem.cacheSeqlens,
          meta.tileSchedulerMetadata,
          meta.numSplits,
          exec,
        );
      }
    };

    const first = problem.copies[0];
    out.fillBytes(0xff, stream);
    lse.fillBytes(0xff, stream);
    run(first);
    const scale = 1 / Math.sqrt(spec.dQk);
    const rows = rowsToCheck(b, sQ, hQ, new Random(spec.seed));
    const ref = referenceDecodeOnDevice(
      first.q,
      first.kCache,
      kind === 'gqa' ? first.vCache : undefined,
      first.blockTable,
      problem.cacheSeqlens,
      dV,
      scale,
      causal,
      rows,
      stream,
    );
    owned.push(ref.out, ref.lse);
    const allOut = out.toHost(stream).toFloat32();
    const allLse = lse.toHost(stream).toFloat32();
    let unwritten = 0;
    for (const v of allOut) if (Number.isNaN(v)) unwritten++;
    for (const v of allLse) if (Number.isNaN(v)) unwritten++;
    const got = gatherQueryRows(allOut, allLse, rows, { sQ, hQ, dV });
    const n = rows.length / 3;
    const outCmp = compareOutputs(got.out, ref.out.toHost(stream).toFloat32());
    const lseCmp = compareOutputs(got.lse, ref.lse.toHost(stream).toFloat32());
    const correctness = {
      outRelativeError: outCmp.relativeError,
      outMaxAbsError: outCmp.maxAbsError,
      lseMaxAbsError: lseCmp.maxAbsError,
      unwritten,
      checkedRows: n,
      pass:
        unwritten === 0 &&
        outCmp.relativeError < MAX_OUT_RELATIVE_ERROR &&
        lseCmp.maxAbsError < MAX_LSE_ABS_ERROR,
    };

    const copies = problem.copies;
    const timing = timeDevice(stream, (i) => run(copies[i % copies.length]));
    return {
      seqlens: {
        mean: problem.meanLen,
        min: minOf(problem.seqlens),
        max: maxOf(problem.seqlens),
      },
      timing,
      correctness,
      rotatedCopies: copies.length,
    };
  } finally {
    owned.forEach((t) => t.dispose());
    problem.dispose();
  }
}
