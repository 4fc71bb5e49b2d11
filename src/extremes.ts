/**
 * Largest and smallest of an array by a loop: `Math.max(...values)` passes every element as an
 * argument and overflows the call stack on data-sized arrays (a few hundred thousand elements).
 */

/** The largest value, or `empty` for no values (as Math.max() gives -Infinity). */
export function maxOf(values: ArrayLike<number>, empty = -Infinity): number {
  if (values.length === 0) return empty;
  let max = values[0];
  for (let i = 1; i < values.length; i++) if (values[i] > max) max = values[i];
  return max;
}

/** The smallest value, or `empty` for no values (as Math.min() gives Infinity). */
export function minOf(values: ArrayLike<number>, empty = Infinity): number {
  if (values.length === 0) return empty;
  let min = values[0];
  for (let i = 1; i < values.length; i++) if (values[i] < min) min = values[i];
  return min;
}
