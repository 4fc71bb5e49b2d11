/**
 * A sequence's pages in token order, in an int32 list that doubles when full, and the lists of
 * ended sequences kept for reuse: appending a page allocates nothing most of the time, and freeing
 * walks a typed array instead of boxed numbers.
 */
export interface SequencePages {
  /** Pages [0, count) in token order; entries past `count` are spare capacity. */
  pages: Int32Array;
  count: number;
  /** Tokens held. */
  length: number;
}

const NO_PAGES = new Int32Array(0);
const MIN_CAPACITY = 4;
/** Spare lists kept at most: enough for the sequences that end between two admissions, few to search. */
const MAX_SPARE_LISTS = 64;

/**
 * Lists of ended sequences, at most MAX_SPARE_LISTS of them and as many entries in all as the pool
 * has pages (so they cost no more memory than the reference counts).
 */
export class PageLists {
  private readonly spare: Int32Array[] = [];
  private spareEntries = 0;

  /** `numPages`: a sequence holds distinct pages, so no list needs more. */
  constructor(private readonly numPages: number) {}

  empty(): SequencePages {
    return { pages: NO_PAGES, count: 0, length: 0 };
  }

  /** A sequence with `seq`'s pages and length, in a list of its own. */
  copy(seq: SequencePages): SequencePages {
    const pages = this.take(seq.count, seq.count);
    pages.set(seq.pages.subarray(0, seq.count));
    return { pages, count: seq.count, length: seq.length };
  }

  /** Room in `seq`'s list for `needed` pages in all. */
  reserve(seq: SequencePages, needed: number): void {
    if (needed <= seq.pages.length) return;
    const pages = this.take(needed, seq.pages.length);
    pages.set(seq.pages.subarray(0, seq.count));
    this.give(seq.pages);
    seq.pages = pages;
  }

  /** Keeps an ended sequence's list for reuse, while the spare lists stay within bounds. */
  give(pages: Int32Array): void {
    if (
      pages.length === 0 ||
      this.spare.length === MAX_SPARE_LISTS ||
      this.spareEntries + pages.length > this.numPages
    ) {
      return;
    }
    this.spare.push(pages);
    this.spareEntries += pages.length;
  }

  /** A spare list of at least `needed` entries, or a new one of twice `current` (within bounds). */
  private take(needed: number, current: number): Int32Array {
    const { spare } = this;
    for (let i = spare.length - 1; i >= 0; i--) {
      const pages = spare[i];
      if (pages.length < needed) continue;
      spare[i] = spare[spare.length - 1];
      spare.pop();
      this.spareEntries -= pages.length;
      return pages;
    }
    return new Int32Array(Math.min(this.numPages, Math.max(needed, 2 * current, MIN_CAPACITY)));
  }
}

/** The pages in use, as a view (no copy). */
export function pagesInUse(seq: SequencePages): Int32Array {
  return seq.pages.subarray(0, seq.count);
}
