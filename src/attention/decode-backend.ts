/** The checks every decode call makes once its shapes are known, in one order for MLA and GQA. */
import type { Backend, ExecutionOptions, Fp8Decode } from '../backend/backend.js';
import { backendForTensors } from '../backend/registry.js';
import type { DecodeShapes } from './validate.js';
import { checkDecodeCall, type DecodeTensors } from './host-contents.js';
import { checkOptionsObject, validateDecodeExecution } from './validate-execution.js';
import { checkFp8Backend, checkScaleValues, scaleTensors } from './validate-fp8.js';

/**
 * The backend of a decode call's tensors (scales included, all in one place), after checking that
 * it runs the call's FP8 format, the execution options, the contents and the scales' values.
 */
export function decodeBackend(
  operation: 'mlaDecode' | 'gqaDecode',
  tensors: DecodeTensors,
  shapes: DecodeShapes,
  fp8: Fp8Decode | undefined,
  options: ExecutionOptions | undefined,
): Backend {
  const scales = scaleTensors(fp8);
  const all = { ...tensors, ...scales };
  const backend = backendForTensors(all);
  checkFp8Backend(fp8, backend, 'options.descaleK', operation, tensors.q.dtype);
  validateDecodeExecution(checkOptionsObject(options, 'options'), backend, tensors.q, shapes.dV);
  checkDecodeCall(all, shapes, options?.checkContents);
  checkScaleValues(scales, options?.checkContents);
  return backend;
}
