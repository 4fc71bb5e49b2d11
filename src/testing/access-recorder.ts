/**
 * Records which elements of a host tensor an operation reads and writes, to prove that it never
 * touches what it must not (cache rows past a sequence's end, free pages, skipped slots). Slow:
 * every access goes through a Proxy, so use it on small problems only.
 */
import { Tensor } from '../tensor.js';
import type { HostArray } from '../dtype.js';

export interface RecordedTensor {
  /** The same dtype, shape, strides and values, with every element access recorded. */
  readonly tensor: Tensor;
  /** Element indices read (any index, even outside the array). */
  readonly reads: Set<number>;
  /** Element indices written. */
  readonly writes: Set<number>;
}

function elementIndex(key: string | symbol): number | undefined {
  if (typeof key !== 'string') return undefined;
  const n = Number(key);
  return Number.isInteger(n) ? n : undefined;
}

export function recordAccesses(t: Tensor): RecordedTensor {
  const reads = new Set<number>();
  const writes = new Set<number>();
  const data = new Proxy(t.data, {
    get(target, key) {
      const i = elementIndex(key);
      if (i !== undefined) {
        reads.add(i);
        return target[i];
      }
      const value = Reflect.get(target, key, target);
      // Methods (subarray, fill, ...) run on the typed array itself; the constructor stays as is.
      return typeof value === 'function' && key !== 'constructor' ? value.bind(target) : value;
    },
    set(target, key, value) {
      const i = elementIndex(key);
      if (i !== undefined) {
        writes.add(i);
        target[i] = value;
        return true;
      }
      return Reflect.set(target, key, value, target);
    },
  }) as HostArray;
  return { tensor: new Tensor(t.dtype, t.shape, data, t.strides), reads, writes };
}
