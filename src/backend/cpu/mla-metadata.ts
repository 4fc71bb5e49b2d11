/** getMlaMetadata on the host: the shared schedule computation, wrapped as int32 tensors. */
import type { Tensor } from '../../tensor.js';
import { int32Values } from '../../int32-values.js';
import { computeSchedule, METADATA_ROW_WIDTH, numSmPartsFor } from '../../schedule/index.js';
import type { ExecutionOptions, MlaMetadata } from '../backend.js';
import { outputTensor } from './host-data.js';

/** The backend entry point: the schedule as int32 host tensors (into exec.metadata, when given). */
export function getMlaMetadata(
  cacheSeqlens: Tensor,
  numQTokensPerHeadK: number,
  numHeadsK: number,
  numSms: number,
  exec: ExecutionOptions<Tensor> = {},
): MlaMetadata<Tensor> {
  const numSmParts = numSmPartsFor(numSms, numQTokensPerHeadK, numHeadsK);
  const schedule = computeSchedule(int32Values(cacheSeqlens), numSmParts);
  return {
    tileSchedulerMetadata: outputTensor(
      exec.metadata?.tileSchedulerMetadata,
      'int32',
      [numSmParts, METADATA_ROW_WIDTH],
      schedule.tileSchedulerMetadata,
    ),
    numSplits: outputTensor(
      exec.metadata?.numSplits,
      'int32',
      [cacheSeqlens.shape[0] + 1],
      schedule.numSplits,
    ),
  };
}
