/** GQA / MHA / MQA decode on the host: separate K and V caches of one head dim. */
import type { Tensor } from '../../tensor.js';
import type {
  DecodeResult,
  ExecutionOptions,
  MlaMetadata,
  ResolvedDecodeOptions,
} from '../backend.js';
import { decodeResult, splitKvInputs } from './decode-inputs.js';
import { runSplitKvAttention } from './split-kv-attention.js';

export function gqaDecode(
  q: Tensor,
  kCache: Tensor,
  vCache: Tensor,
  blockTable: Tensor,
  cacheSeqlens: Tensor,
  metadata: MlaMetadata<Tensor>,
  options: ResolvedDecodeOptions<Tensor>,
  exec?: ExecutionOptions<Tensor>,
): DecodeResult<Tensor> {
  const headDim = vCache.shape[3];
  const inputs = splitKvInputs(
    q,
    kCache,
    vCache,
    blockTable,
    cacheSeqlens,
    headDim,
    metadata,
    options,
  );
  return decodeResult(runSplitKvAttention(inputs), inputs, q.dtype, exec);
}
