/**
 * A first-fit allocator over one address range [0, capacity): how a server that reserves one
 * contiguous region per request hands out memory. Freed regions merge with free neighbours; free
 * memory split into pieces too small for the next request is external fragmentation.
 */
import { ArgumentError } from '../errors.js';

export class FirstFitAllocator {
  /** Free regions, sorted by start, never adjacent (merged on free). */
  private readonly starts: number[] = [];
  private readonly sizes: number[] = [];
  private freeTotal: number;
  private largestCache = -1;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new ArgumentError('capacity', 'an integer >= 0', String(capacity));
    }
    this.freeTotal = capacity;
    if (capacity > 0) {
      this.starts.push(0);
      this.sizes.push(capacity);
    }
  }

  get free(): number {
    return this.freeTotal;
  }

  /** The largest free region (what the biggest request that fits now may take). */
  get largestFree(): number {
    if (this.largestCache < 0) this.largestCache = this.sizes.reduce((a, b) => Math.max(a, b), 0);
    return this.largestCache;
  }

  /** Start of a new region of `size` units at the lowest address that has room, or -1. */
  allocate(size: number): number {
    if (!Number.isSafeInteger(size) || size < 1) {
      throw new ArgumentError('size', 'an integer >= 1', String(size));
    }
    for (let i = 0; i < this.starts.length; i++) {
      if (this.sizes[i] < size) continue;
      const start = this.starts[i];
      if (this.sizes[i] === size) {
        this.starts.splice(i, 1);
        this.sizes.splice(i, 1);
      } else {
        this.starts[i] += size;
        this.sizes[i] -= size;
      }
      this.freeTotal -= size;
      this.largestCache = -1;
      return start;
    }
    return -1;
  }

  /** Returns the region [start, start + size), which must be one `allocate` handed out. */
  release(start: number, size: number): void {
    // Index of the first free region after `start`.
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] < start) lo = mid + 1;
      else hi = mid;
    }
    const prev = lo - 1;
    const end = start + size;
    const joinsPrev = prev >= 0 && this.starts[prev] + this.sizes[prev] === start;
    const joinsNext = lo < this.starts.length && this.starts[lo] === end;
    if (joinsPrev && joinsNext) {
      this.sizes[prev] += size + this.sizes[lo];
      this.starts.splice(lo, 1);
      this.sizes.splice(lo, 1);
    } else if (joinsPrev) {
      this.sizes[prev] += size;
    } else if (joinsNext) {
      this.starts[lo] = start;
      this.sizes[lo] += size;
    } else {
      this.starts.splice(lo, 0, start);
      this.sizes.splice(lo, 0, size);
    }
    this.freeTotal += size;
    this.largestCache = -1;
  }
}
