/** Host tensors as the public functions see them: Tensor instances whose values can be read. */
import { ArgumentError } from '../errors.js';
import { Tensor, type TensorLike } from '../tensor.js';
import { int32Values } from '../int32-values.js';
import type { DecodeShapes } from './validate.js';
import { validateDecodeContents } from './validate-contents.js';

/** Host tensors must be Tensor instances, since the host backend reads their data. */
export function checkHostTensor(t: TensorLike, name: string): asserts t is Tensor {
  if (!(t instanceof Tensor)) {
    throw new ArgumentError(name, 'a Tensor (host tensors are Tensor instances)', 'another object');
  }
}

/** The values of a host int32 tensor, row-major. */
export function hostInt32(t: TensorLike, name: string): Int32Array {
  checkHostTensor(t, name);
  return int32Values(t);
}

/** The values of an int32 tensor wherever it lives (a device tensor is copied to the host). */
export function int32Contents(t: TensorLike, name: string): Int32Array {
  return t.location === 'host' ? hostInt32(t, name) : int32Values(t.toHost());
}

/** Whether a call checks its tensors' contents: always on the host, on request elsewhere. */
export function shouldCheckContents(t: TensorLike, checkContents: boolean | undefined): boolean {
  return t.location === 'host' || checkContents === true;
}

/** Every tensor of a host call is a Tensor instance. */
export function checkHostTensors(tensors: Readonly<Record<string, TensorLike>>): void {
  for (const [name, t] of Object.entries(tensors)) checkHostTensor(t, name);
}

/** The tensors every decode call checks, by argument name. */
export interface DecodeTensors {
  readonly q: TensorLike;
  readonly blockTable: TensorLike;
  readonly cacheSeqlens: TensorLike;
  readonly tileSchedulerMetadata: TensorLike;
  readonly numSplits: TensorLike;
  readonly [name: string]: TensorLike;
}

/**
 * Host decode calls: every tensor a Tensor, and their contents checked (lengths within capacity,
 * the block-table entries that will be read in range, the schedule matching the lengths). Device
 * calls: the same contents check when `checkContents` asks for it.
 */
export function checkDecodeCall(
  tensors: DecodeTensors,
  shapes: DecodeShapes,
  checkContents: boolean | undefined,
): void {
  if (tensors.q.location === 'host') checkHostTensors(tensors);
  if (!shouldCheckContents(tensors.q, checkContents)) return;
  validateDecodeContents({
    cacheSeqlens: int32Contents(tensors.cacheSeqlens, 'cacheSeqlens'),
    blockTable: int32Contents(tensors.blockTable, 'blockTable'),
    maxPages: shapes.maxPages,
    pageSize: shapes.pageSize,
    numPages: shapes.numPages,
    tileSchedulerMetadata: int32Contents(tensors.tileSchedulerMetadata, 'tileSchedulerMetadata'),
    numSplits: int32Contents(tensors.numSplits, 'numSplits'),
  });
}
