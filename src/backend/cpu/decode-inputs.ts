/** Turning validated host tensors into the arrays the split-KV loop reads. */
import { encodeArray } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import { outputDTypeOf } from '../../fp8/cache-formats.js';
import type {
  DecodeResult,
  ExecutionOptions,
  MlaMetadata,
  ResolvedDecodeOptions,
} from '../backend.js';
import { int32Values } from '../../int32-values.js';
import { outputTensor } from './host-data.js';
import { pagedCacheView, valueTable } from './paged-cache-view.js';
import type { SplitKvInputs, SplitKvResult } from './split-kv-attention.js';

/** q [b, s_q, h_q, d] decoded (e4m3 ones times descaleQ) into a dense Float32Array. */
function decodeQueries(q: Tensor, descaleQ: Tensor | undefined): Float32Array {
  const [b, sQ, hQ, d] = q.shape;
  const table = valueTable(q, descaleQ);
  const bits = q.data;
  const dst = new Float32Array(b * sQ * hQ * d);
  let o = 0;
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < sQ; j++) {
      for (let h = 0; h < hQ; h++) {
        const src = i * q.strides[0] + j * q.strides[1] + h * q.strides[2];
        for (let c = 0; c < d; c++) dst[o++] = table[bits[src + c]];
      }
    }
  }
  return dst;
}

export function splitKvInputs(
  q: Tensor,
  kCache: Tensor,
  vCache: Tensor | undefined,
  blockTable: Tensor,
  cacheSeqlens: Tensor,
  headDimV: number,
  metadata: MlaMetadata<Tensor>,
  options: ResolvedDecodeOptions<Tensor>,
): SplitKvInputs {
  const [b, sQ, hQ, dQk] = q.shape;
  const { fp8 } = options;
  return {
    b,
    sQ,
    hQ,
    hKv: kCache.shape[2],
    dQk,
    dV: headDimV,
    pageSize: kCache.shape[1],
    maxPages: blockTable.shape[1],
    q: decodeQueries(q, fp8?.descaleQ),
    keys: pagedCacheView(kCache, fp8?.cacheFormat, fp8?.descaleK),
    values: vCache && pagedCacheView(vCache, fp8?.cacheFormat, fp8?.descaleV),
    blockTable: int32Values(blockTable),
    cacheSeqlens: int32Values(cacheSeqlens),
    softmaxScale: options.softmaxScale,
    causal: options.causal,
    tileSchedulerMetadata: int32Values(metadata.tileSchedulerMetadata),
    numSplits: int32Values(metadata.numSplits),
  };
}

/** out rounded to q's output dtype (nearest even), lse as float32 tensors (into exec's, when given). */
export function decodeResult(
  result: SplitKvResult,
  inputs: SplitKvInputs,
  qDType: Tensor['dtype'],
  exec: ExecutionOptions<Tensor> = {},
): DecodeResult<Tensor> {
  const { b, sQ, hQ, dV } = inputs;
  const dtype = outputDTypeOf(qDType);
  return {
    out: outputTensor(exec.out, dtype, [b, sQ, hQ, dV], encodeArray(dtype, result.out)),
    lse: outputTensor(exec.lse, 'float32', [b, hQ, sQ], result.lse),
  };
}
