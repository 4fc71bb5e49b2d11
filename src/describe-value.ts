/**
 * How error messages print a value the caller passed: numbers as they are, strings quoted and
 * typed (so that "8" and 8 read differently), everything else by its kind.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'string':
      return `${JSON.stringify(value)} (string)`;
    case 'boolean':
      return `${value} (boolean)`;
    case 'bigint':
      return `${value}n (bigint)`;
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return `${String(value)} (symbol)`;
    case 'function':
      return 'a function';
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an Array of ${value.length} elements`;
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== 'Object' ? `a ${name}` : 'an object';
}
