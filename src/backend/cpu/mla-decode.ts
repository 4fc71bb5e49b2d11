/** MLA decode on the host: keys and values share one cache; values are each key's first d_v entries. */
import type { Tensor } from '../../tensor.js';
import type {
  DecodeResult,
  ExecutionOptions,
  MlaMetadata,
  ResolvedDecodeOptions,
} from '../backend.js';
import { decodeResult, splitKvInputs } from './decode-inputs.js';
import { runSplitKvAttention } from './split-kv-attention.js';

export function mlaDecode(
  q: Tensor,
  kvCache: Tensor,
  blockTable: Tensor,
  cacheSeqlens: Tensor,
  headDimV: number,
  metadata: MlaMetadata<Tensor>,
  options: ResolvedDecodeOptions<Tensor>,
  exec?: ExecutionOptions<Tensor>,
): DecodeResult<Tensor> {
  const inputs = splitKvInputs(
    q,
    kvCache,
    undefined,
    blockTable,
    cacheSeqlens,
    headDimV,
    metadata,
    options,
  );
  return decodeResult(runSplitKvAttention(inputs), inputs, q.dtype, exec);
}
