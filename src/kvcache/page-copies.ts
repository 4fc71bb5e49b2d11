/** Copy-on-write page copies, and applying them to a host cache tensor. */
import { describeValue } from '../describe-value.js';
import { ArgumentError } from '../errors.js';
import { isContiguous, numelOf, Tensor } from '../tensor.js';

/** Copy the first `rows` rows of page `srcPage` into page `dstPage`. */
export interface PageCopy {
  readonly srcPage: number;
  readonly dstPage: number;
  readonly rows: number;
}

function checkIndex(argument: string, value: unknown, limit: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= limit) {
    throw new ArgumentError(argument, `an integer in [0, ${limit})`, describeValue(value));
  }
}

/** Checks every copy against a cache of `shape` [numPages, pageSize, ...] before any is applied. */
export function checkPageCopies(shape: readonly number[], copies: readonly PageCopy[]): void {
  if (!Array.isArray(shape) || shape.length < 2) {
    const actual = Array.isArray(shape) ? `[${shape}]` : describeValue(shape);
    throw new ArgumentError('cache.shape', '[numPages, pageSize, ...]', actual);
  }
  const [numPages, pageSize] = shape;
  if (!Array.isArray(copies)) {
    throw new ArgumentError('copies', 'an array of page copies', describeValue(copies));
  }
  copies.forEach((copy: unknown, i) => {
    if (typeof copy !== 'object' || copy === null) {
      throw new ArgumentError(`copies[${i}]`, '{ srcPage, dstPage, rows }', describeValue(copy));
    }
    const c = copy as Partial<PageCopy>;
    checkIndex(`copies[${i}].srcPage`, c.srcPage, numPages);
    checkIndex(`copies[${i}].dstPage`, c.dstPage, numPages);
    checkIndex(`copies[${i}].rows`, c.rows, pageSize + 1);
  });
}

/**
 * Applies `copies`, in order, to `cache` [numPages, pageSize, ...] (a host tensor of any dtype).
 * Every copy is checked before any is applied.
 */
export function applyPageCopies(cache: Tensor, copies: readonly PageCopy[]): void {
  if (!(cache instanceof Tensor)) {
    throw new ArgumentError('cache', 'a host Tensor', describeValue(cache));
  }
  checkPageCopies(cache.shape, copies);
  const pageSize = cache.shape[1];
  const rowShape = cache.shape.slice(2);
  const rowElems = numelOf(rowShape);
  const rowStrides = cache.strides.slice(2);
  // Rows laid out back to back: one block move per copy.
  const rowsPacked =
    isContiguous({ shape: rowShape, strides: rowStrides }) &&
    (pageSize === 1 || cache.strides[1] === rowElems);
  for (const c of copies) {
    const src = cache.offsetOf(c.srcPage);
    const dst = cache.offsetOf(c.dstPage);
    if (rowsPacked) {
      cache.data.copyWithin(dst, src, src + c.rows * rowElems);
      continue;
    }
    for (let r = 0; r < c.rows; r++) {
      copyElements(
        cache,
        src + r * cache.strides[1],
        dst + r * cache.strides[1],
        rowShape,
        rowStrides,
      );
    }
  }
}

/** Copies one row (any strides) element by element. */
function copyElements(
  cache: Tensor,
  src: number,
  dst: number,
  shape: readonly number[],
  strides: readonly number[],
): void {
  const n = numelOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    let offset = 0;
    for (let d = 0; d < idx.length; d++) offset += idx[d] * strides[d];
    cache.data[dst + offset] = cache.data[src + offset];
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}
