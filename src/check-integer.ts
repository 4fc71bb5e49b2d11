/** Integer arguments (counts, sizes, indices) checked against their range before any use. */
import { describeValue } from './describe-value.js';
import { ArgumentError } from './errors.js';

/** The largest int32: lengths, slots and sizes the kernels read as int32 must not pass it. */
export const INT32_MAX = 2 ** 31 - 1;

/** `value` is an integer in [min, max]; `why` explains the upper bound, for the message. */
export function checkIntegerIn(
  value: unknown,
  name: string,
  min: number,
  max: number,
  why?: string,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Infinity ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new ArgumentError(
      name,
      `an integer ${range}${why ? ` (${why})` : ''}`,
      describeValue(value),
    );
  }
}
