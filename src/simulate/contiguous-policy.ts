/**
 * Contiguous reservation: each request gets one region of the budget for its whole life, either
 * a configured maximum length (the model's context, or less: what servers did before paging; a
 * longer request cannot be served) or exactly prompt + generated tokens (an oracle: no real server
 * knows the output length in advance). Regions come from a
 * first-fit allocator, so the budget fragments as requests of different sizes come and go.
 */
import { FirstFitAllocator } from './first-fit-allocator.js';
import type { Admission, MemoryPolicy } from './memory-policy.js';

export class ContiguousPolicy implements MemoryPolicy {
  readonly capacitySlots: number;
  private readonly allocator: FirstFitAllocator;
  private readonly regionStart: Int32Array;
  private readonly regionSize: Int32Array;

  constructor(
    readonly name: string,
    budgetBytes: number,
    bytesPerToken: number,
    /** Tokens reserved per request; undefined: exactly what the request will hold. */
    private readonly reserveTokens: number | undefined,
    numRequests: number,
  ) {
    this.capacitySlots = Math.floor(budgetBytes / bytesPerToken);
    this.allocator = new FirstFitAllocator(this.capacitySlots);
    this.regionStart = new Int32Array(numRequests);
    this.regionSize = new Int32Array(numRequests);
  }

  private reservation(finalTokens: number): number {
    return this.reserveTokens ?? finalTokens;
  }

  fitsAlone(finalTokens: number): boolean {
    const size = this.reservation(finalTokens);
    return finalTokens <= size && size <= this.capacitySlots;
  }

  admit(r: number, _tokens: number, finalTokens: number): Admission {
    const size = this.reservation(finalTokens);
    const start = this.allocator.allocate(size);
    if (start < 0) return this.allocator.free >= size ? 'fragmented' : 'no-memory';
    this.regionStart[r] = start;
    this.regionSize[r] = size;
    return 'admitted';
  }

  grow(): boolean {
    // The region was sized for the whole request, so it never runs out.
    return true;
  }

  release(r: number): void {
    this.allocator.release(this.regionStart[r], this.regionSize[r]);
  }

  slotsInUse(): number {
    return this.capacitySlots - this.allocator.free;
  }

  slotsUnused(tokensHeld: number): number {
    // Each request holds its own copy of every token in its region.
    return this.slotsInUse() - tokensHeld;
  }

  fragmentedSlots(): number {
    return this.allocator.free - this.allocator.largestFree;
  }
}
