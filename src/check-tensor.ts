/**
 * The first check of every tensor argument: it is a tensor at all (callers from plain JavaScript
 * may pass anything) and, for device tensors, its memory has not been freed by `dispose()`.
 */
import { describeValue } from './describe-value.js';
import { ArgumentError } from './errors.js';
import type { TensorLike } from './tensor.js';

/** Rejects values that are not tensors, and tensors whose memory was disposed. */
export function checkTensorLike(value: unknown, name: string): asserts value is TensorLike {
  const t = value as Partial<TensorLike> | null | undefined;
  if (
    typeof t !== 'object' ||
    t === null ||
    typeof t.dtype !== 'string' ||
    !Array.isArray(t.shape) ||
    !Array.isArray(t.strides) ||
    typeof t.location !== 'string'
  ) {
    throw new ArgumentError(name, 'a tensor', describeValue(t));
  }
  checkNotDisposed(t as TensorLike, name);
}

/** A disposed device tensor's address may already belong to another allocation. */
export function checkNotDisposed(t: TensorLike, name: string): void {
  if (t.disposed === true) {
    throw new ArgumentError(name, 'a live tensor (not disposed)', 'a tensor used after dispose()');
  }
}
