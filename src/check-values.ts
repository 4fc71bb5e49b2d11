/**
 * The values a tensor is built from. Float dtypes take any number: NaN and +-Infinity are float
 * values like any other (rounded as IEEE and PyTorch round them). int32 tensors take integers in
 * int32 range only, since storing anything else would silently truncate or wrap. Values that are
 * not numbers at all (strings, booleans, undefined) are rejected for every dtype, never coerced.
 */
import { describeValue } from './describe-value.js';
import type { DType } from './dtype.js';
import { ArgumentError } from './errors.js';
import { INT32_MAX } from './check-integer.js';

const INT32_MIN = -INT32_MAX - 1;

function isBigIntArray(values: unknown): boolean {
  return values instanceof BigInt64Array || values instanceof BigUint64Array;
}

/** Typed arrays of numbers: every element is a number, so none needs a look for its type. */
function isNumberArray(values: unknown): boolean {
  return ArrayBuffer.isView(values) && !(values instanceof DataView) && !isBigIntArray(values);
}

/** Typed arrays every element of which an int32 holds exactly. */
function fitsInt32(values: unknown): boolean {
  return (
    values instanceof Int32Array ||
    values instanceof Int16Array ||
    values instanceof Uint16Array ||
    values instanceof Int8Array ||
    values instanceof Uint8Array ||
    values instanceof Uint8ClampedArray
  );
}

/** `values` is an array or typed array whose every element is a number. */
export function checkNumbers(values: unknown, name: string): asserts values is ArrayLike<number> {
  const v = values as ArrayLike<unknown> | null | undefined;
  if (typeof v !== 'object' || v === null || !Number.isSafeInteger(v.length) || v.length < 0) {
    throw new ArgumentError(name, 'an array or typed array of numbers', describeValue(values));
  }
  if (isBigIntArray(v)) {
    throw new ArgumentError(name, 'an array or typed array of numbers', describeValue(values));
  }
  if (isNumberArray(v)) return;
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'number') {
      throw new ArgumentError(`${name}[${i}]`, 'a number', describeValue(v[i]));
    }
  }
}

/** `values` can be stored as `dtype` as they are: numbers, and for int32 integers in range. */
export function checkTensorValues(
  values: unknown,
  dtype: DType,
  name: string,
): asserts values is ArrayLike<number> {
  checkNumbers(values, name);
  if (dtype !== 'int32' || fitsInt32(values)) return;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (!Number.isInteger(x) || x < INT32_MIN || x > INT32_MAX) {
      throw new ArgumentError(`${name}[${i}]`, 'an integer in int32 range', describeValue(x));
    }
  }
}
