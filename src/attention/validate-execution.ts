/**
 * Checks of the execution options (preallocated `out`, `lse`, `workspace`, schedule tensors `into`,
 * `stream`, `checkContents`), made here once for every backend, so that an option one backend
 * rejects is never silently ignored by another.
 */
import type { Backend, ExecutionOptions, MlaMetadata } from '../backend/backend.js';
import { checkTensorLike } from '../check-tensor.js';
import { describeValue } from '../describe-value.js';
import type { DType } from '../dtype.js';
import { ArgumentError } from '../errors.js';
import type { TensorLike } from '../tensor.js';
import { checkHostTensor } from './host-contents.js';
import { checkLastDimContiguous } from './validate.js';
import { METADATA_ROW_WIDTH } from '../schedule/index.js';
import { outputDTypeOf } from '../fp8/cache-formats.js';

/** `options` is an object or undefined; returns it, or an empty object. */
export function checkOptionsObject<T extends object>(options: T | undefined, name: string): T {
  if (options === undefined) return {} as T;
  if (typeof options !== 'object' || options === null) {
    throw new ArgumentError(name, 'an object or undefined', describeValue(options));
  }
  return options;
}

/** A preallocated output: a tensor beside `like`, of exactly `shape` and `dtype`. */
export function checkOutputTensor(
  given: unknown,
  name: string,
  like: TensorLike,
  shape: readonly number[],
  dtype: DType,
): void {
  checkTensorLike(given, name);
  if (given.location !== like.location) {
    throw new ArgumentError(
      name,
      `a tensor on '${like.location}'`,
      `a tensor on '${given.location}'`,
    );
  }
  if (given.dtype !== dtype) throw new ArgumentError(`${name}.dtype`, dtype, given.dtype);
  if (given.shape.length !== shape.length || given.shape.some((d, i) => d !== shape[i])) {
    throw new ArgumentError(`${name}.shape`, `[${shape}]`, `[${given.shape}]`);
  }
  checkLastDimContiguous(given, name);
  if (given.location === 'host') checkHostTensor(given, name);
}

/** The options every operation takes: stream (as the backend knows streams) and checkContents. */
function checkCommonOptions(exec: ExecutionOptions, backend: Backend): void {
  backend.checkStream?.(exec.stream, 'stream');
  const { checkContents } = exec;
  if (checkContents !== undefined && typeof checkContents !== 'boolean') {
    throw new ArgumentError('options.checkContents', 'a boolean', describeValue(checkContents));
  }
}

/**
 * The execution options of a decode producing out [b, s_q, h_q, d_v] (in q's output dtype) and
 * lse [b, h_q, s_q].
 */
export function validateDecodeExecution(
  exec: ExecutionOptions,
  backend: Backend,
  q: TensorLike,
  dV: number,
): void {
  checkCommonOptions(exec, backend);
  const [b, sQ, hQ] = q.shape;
  const outDType = outputDTypeOf(q.dtype);
  if (exec.out !== undefined) checkOutputTensor(exec.out, 'out', q, [b, sQ, hQ, dV], outDType);
  if (exec.lse !== undefined) checkOutputTensor(exec.lse, 'lse', q, [b, hQ, sQ], 'float32');
  if (exec.workspace !== undefined) {
    checkTensorLike(exec.workspace, 'workspace');
    if (exec.workspace.location !== q.location) {
      throw new ArgumentError(
        'workspace',
        `a tensor on '${q.location}'`,
        `a tensor on '${exec.workspace.location}'`,
      );
    }
  }
}

/** The execution options of writeKv. */
export function validateWriteKvExecution(exec: ExecutionOptions, backend: Backend): void {
  checkCommonOptions(exec, backend);
}

/** The options of getMlaMetadata: `into` must hold [numSmParts, 8] and [b + 1] int32 tensors. */
export function validateMetadataExecution(
  exec: { stream?: unknown; into?: MlaMetadata },
  backend: Backend,
  cacheSeqlens: TensorLike,
  numSmParts: number,
): void {
  backend.checkStream?.(exec.stream, 'stream');
  const { into } = exec;
  if (into === undefined) return;
  checkOptionsObject(into, 'into');
  const rows = [numSmParts, METADATA_ROW_WIDTH];
  const name = 'into';
  checkOutputTensor(
    into.tileSchedulerMetadata,
    `${name}.tileSchedulerMetadata`,
    cacheSeqlens,
    rows,
    'int32',
  );
  const splits = [cacheSeqlens.shape[0] + 1];
  checkOutputTensor(into.numSplits, `${name}.numSplits`, cacheSeqlens, splits, 'int32');
}
