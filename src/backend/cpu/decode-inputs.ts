/** Turning validated host tensors into the arrays the split-KV loop reads. */
import { decodeTable, encodeArray, type NarrowFloatDType } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import type { DecodeOptions, DecodeResult, ExecutionOptions, MlaMetadata } from '../backend.js';
import { int32Values } from '../../int32-values.js';
import { outputTensor } from './host-data.js';
import { pagedCacheView } from './paged-cache-view.js';
import type { SplitKvInputs, SplitKvResult } from './split-kv-attention.js';

/** q [b, s_q, h_q, d] decoded into a dense Float32Array, whatever its leading strides. */
function decodeQueries(q: Tensor): Float32Array {
  const [b, sQ, hQ, d] = q.shape;
  const table = decodeTable(q.dtype as NarrowFloatDType);
  const bits = q.data as Uint16Array;
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
  options: Required<DecodeOptions>,
): SplitKvInputs {
  const [b, sQ, hQ, dQk] = q.shape;
  return {
    b,
    sQ,
    hQ,
    hKv: kCache.shape[2],
    dQk,
    dV: headDimV,
    pageSize: kCache.shape[1],
    maxPages: blockTable.shape[1],
    q: decodeQueries(q),
    keys: pagedCacheView(kCache),
    values: vCache && pagedCacheView(vCache),
    blockTable: int32Values(blockTable),
    cacheSeqlens: int32Values(cacheSeqlens),
    softmaxScale: options.softmaxScale,
    causal: options.causal,
    tileSchedulerMetadata: int32Values(metadata.tileSchedulerMetadata),
    numSplits: int32Values(metadata.numSplits),
  };
}

/** out rounded to q's dtype (nearest even), lse as float32 tensors (into exec's, when given). */
export function decodeResult(
  result: SplitKvResult,
  inputs: SplitKvInputs,
  dtype: Tensor['dtype'],
  exec: ExecutionOptions<Tensor> = {},
): DecodeResult<Tensor> {
  const { b, sQ, hQ, dV } = inputs;
  return {
    out: outputTensor(exec.out, dtype, [b, sQ, hQ, dV], encodeArray(dtype, result.out)),
    lse: outputTensor(exec.lse, 'float32', [b, hQ, sQ], result.lse),
  };
}
