/**
 * The paged KV-cache allocator: a pool of `numPages` pages of `pageSize` token rows, handed out to
 * sequences a page at a time, shared between forked sequences by reference count, and copied on
 * write when a sequence appends to a partly filled page it shares.
 *
 * Bookkeeping only: the caller owns the cache tensor(s), writes new tokens at the slots it is given
 * and applies the page copies it is told to (see `applyPageCopies`).
 *
 * Page order: a fresh pool hands out pages 0, 1, 2, ... in order. Freed pages go on top of a free
 * stack and are handed out again first (last freed, first reused); a sequence's pages are pushed in
 * reverse, so its first page is the next one handed out. The order is a pure function of the
 * operations, so two caches driven by the same calls hold identical block tables.
 */
import { checkIntegerIn, INT32_MAX } from '../check-integer.js';
import { describeValue } from '../describe-value.js';
import { ArgumentError, OutOfPagesError } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { PageCopy } from './page-copies.js';
import { PageLists, pagesInUse, type SequencePages } from './sequence-pages.js';

export type SequenceId = number & { readonly __brand: 'SequenceId' };

export interface AppendResult {
  /** One slot per appended token: page * pageSize + row (int32). */
  readonly slotMapping: Int32Array;
  /** Copy-on-write page copies the caller must apply to its cache tensors BEFORE writing the new tokens. */
  readonly copies: readonly PageCopy[];
}

export interface KvCacheStats {
  readonly numPages: number;
  readonly pageSize: number;
  readonly pagesUsed: number;
  readonly pagesFree: number;
  /** Sum of sequence lengths (logical tokens; a shared token counts once per sequence). */
  readonly tokensStored: number;
  /** Slots in used pages that hold no token, each physical page counted once. */
  readonly slotsUnused: number;
  /** Sum over used pages of (refCount - 1): the pages that sharing saved. */
  readonly pagesSavedBySharing: number;
  readonly numSequences: number;
  /** With PagedKvCacheOptions.tokenBytes: the same counts in bytes of the caches. */
  readonly bytes?: KvCacheBytes;
}

/** A pool's memory in bytes: slots times the bytes one token takes in the caches it indexes. */
export interface KvCacheBytes {
  /** PagedKvCacheOptions.tokenBytes. */
  readonly perToken: number;
  /** Every page of the pool. */
  readonly total: number;
  /** Pages in use (each physical page once). */
  readonly used: number;
  /** Slots of used pages that hold no token: the waste of the page size. */
  readonly unused: number;
  /** Pages sharing saved (sum over used pages of refCount - 1). */
  readonly savedBySharing: number;
}

export interface PagedKvCacheOptions {
  numPages: number;
  pageSize: number;
  /**
   * Bytes one token takes in the caches this pool's pages index, over all of them (every layer, K
   * and V): kvTokenBytes(model.kv, 'bf16' | 'fp8') for the layouts of the memory study, e.g. 1,152
   * a layer for DeepSeek's MLA in bf16 and 656 in fp8_ds_mla. Optional: with it, stats() reports
   * bytes too.
   */
  tokenBytes?: number;
}

const NO_COPIES: readonly PageCopy[] = Object.freeze([]);

/**
 * The most slots a pool may have: slots (page * pageSize + row) and sequence lengths are int32 in
 * every kernel, and a sequence holds distinct pages, so numPages * pageSize <= INT32_MAX keeps both
 * in range without wrapping.
 */
export const MAX_CACHE_SLOTS = INT32_MAX;

function checkOptions(options: unknown): asserts options is PagedKvCacheOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ArgumentError('options', 'an object { numPages, pageSize }', describeValue(options));
  }
  const { numPages, pageSize, tokenBytes } = options as Partial<PagedKvCacheOptions>;
  checkIntegerIn(numPages, 'numPages', 1, MAX_CACHE_SLOTS, 'numPages * pageSize <= 2^31 - 1');
  const maxPageSize = Math.floor(MAX_CACHE_SLOTS / numPages);
  checkIntegerIn(pageSize, 'pageSize', 1, maxPageSize, `numPages * pageSize <= 2^31 - 1`);
  if (tokenBytes !== undefined) {
    // The pool's bytes must stay exact in a double.
    const maxTokenBytes = Math.floor(Number.MAX_SAFE_INTEGER / (numPages * pageSize));
    checkIntegerIn(tokenBytes, 'tokenBytes', 1, maxTokenBytes, "the pool's bytes <= 2^53 - 1");
  }
}

export class PagedKvCache {
  readonly numPages: number;
  readonly pageSize: number;
  /** Bytes a token takes in the caches (PagedKvCacheOptions.tokenBytes), if given. */
  readonly tokenBytes: number | undefined;

  /** Number of sequences holding each page; 0 = free. */
  private readonly refCounts: Int32Array;
  /** Free pages; the top of the stack (index freeCount - 1) is handed out next. */
  private readonly freeStack: Int32Array;
  private freeCount: number;
  private readonly lists: PageLists;
  private readonly sequences = new Map<number, SequencePages>();
  private nextSequenceId = 0;
  // Running totals so that stats() is O(1).
  private tokensStored = 0;
  private filledSlots = 0;
  private pageRefs = 0;

  constructor(options: PagedKvCacheOptions) {
    checkOptions(options);
    this.numPages = options.numPages;
    this.pageSize = options.pageSize;
    this.tokenBytes = options.tokenBytes;
    this.refCounts = new Int32Array(this.numPages);
    this.freeStack = new Int32Array(this.numPages);
    for (let i = 0; i < this.numPages; i++) this.freeStack[i] = this.numPages - 1 - i;
    this.freeCount = this.numPages;
    this.lists = new PageLists(this.numPages);
  }

  /** Free pages now. */
  get pagesFree(): number {
    return this.freeCount;
  }

  createSequence(): SequenceId {
    const id = this.nextSequenceId++ as SequenceId;
    this.sequences.set(id, this.lists.empty());
    return id;
  }

  /** Number of tokens the sequence holds. */
  length(seq: SequenceId): number {
    return this.#state(seq).length;
  }

  /** The sequence's pages in token order (a copy). */
  pages(seq: SequenceId): readonly number[] {
    return Array.from(pagesInUse(this.#state(seq)));
  }

  /** Number of sequences holding `page` (0 when it is free). */
  refCount(page: number): number {
    if (!Number.isInteger(page) || page < 0 || page >= this.numPages) {
      throw new ArgumentError('page', `an integer in [0, ${this.numPages})`, describeValue(page));
    }
    return this.refCounts[page];
  }

  /** Free pages that appending `numTokens` to `seq` would take, copy-on-write page included. */
  pagesNeeded(seq: SequenceId, numTokens: number): number {
    const state = this.#state(seq);
    checkIntegerIn(numTokens, 'numTokens', 0, MAX_CACHE_SLOTS);
    return this.#freshPages(state, numTokens) + (this.#needsCopy(state, numTokens) ? 1 : 0);
  }

  /**
   * Appends `numTokens` tokens to `seq`, allocating pages as needed, and returns where to write them.
   * Throws OutOfPagesError, changing nothing, when the pool cannot hold them.
   */
  append(seq: SequenceId, numTokens: number): AppendResult {
    const state = this.#state(seq);
    checkIntegerIn(numTokens, 'numTokens', 0, MAX_CACHE_SLOTS);
    const start = state.length;
    const copies = this.#grow(state, numTokens);
    const slotMapping = new Int32Array(numTokens);
    const ps = this.pageSize;
    const pages = state.pages;
    for (let i = 0; i < numTokens; i++) {
      const t = start + i;
      slotMapping[i] = pages[Math.floor(t / ps)] * ps + (t % ps);
    }
    return { slotMapping, copies };
  }

  /**
   * Like `append`, without building the slot mapping: for callers that account memory only (the
   * simulator). Same pages, same copies, same errors.
   */
  extend(seq: SequenceId, numTokens: number): readonly PageCopy[] {
    const state = this.#state(seq);
    checkIntegerIn(numTokens, 'numTokens', 0, MAX_CACHE_SLOTS);
    return this.#grow(state, numTokens);
  }

  /** A new sequence sharing all of `seq`'s pages (reference counted), with the same length. */
  fork(seq: SequenceId): SequenceId {
    const parent = this.#state(seq);
    const child = this.lists.copy(parent);
    const { pages, count } = child;
    for (let i = 0; i < count; i++) this.refCounts[pages[i]]++;
    const id = this.nextSequenceId++ as SequenceId;
    this.sequences.set(id, child);
    this.pageRefs += count;
    this.tokensStored += parent.length;
    return id;
  }

  /**
   * Appends all of `source`'s tokens to `seq` by sharing its pages (reference counted, no new page):
   * how a cached prefix block joins a request. `seq` must end on a page boundary, so that every
   * page keeps its rows wherever it sits; otherwise an ArgumentError, changing nothing.
   */
  appendShared(seq: SequenceId, source: SequenceId): void {
    const state = this.#state(seq);
    const from = this.#state(source, 'source');
    if (seq === source) {
      throw new ArgumentError('source', 'a sequence other than seq', describeValue(source));
    }
    if (state.length % this.pageSize !== 0) {
      throw new ArgumentError(
        'seq',
        `a sequence ending on a page boundary (length a multiple of ${this.pageSize})`,
        `length ${state.length}`,
      );
    }
    // The list holds at most numPages entries (see PageLists).
    if (state.count + from.count > this.numPages) {
      throw new ArgumentError(
        'source',
        `at most ${this.numPages - state.count} pages (numPages less seq's)`,
        `${from.count} pages`,
      );
    }
    this.lists.reserve(state, state.count + from.count);
    for (let i = 0; i < from.count; i++) {
      const page = from.pages[i];
      this.refCounts[page]++;
      state.pages[state.count + i] = page;
    }
    state.count += from.count;
    state.length += from.length;
    this.pageRefs += from.count;
    this.tokensStored += from.length;
  }

  /** Ends `seq`; pages no other sequence holds return to the pool at once. */
  free(seq: SequenceId): void {
    const state = this.#state(seq);
    const { pages, count, length } = state;
    const { refCounts, freeStack } = this;
    let freeCount = this.freeCount;
    // Last page first, so that the sequence's first page ends on top of the stack. A page's rows
    // follow from its place (every holder has it full, or last with the same rows: appendShared
    // starts on a page boundary, and a shared partly filled page is copied before anyone appends
    // to it): full but for the last page.
    if (count > 0 && --refCounts[pages[count - 1]] === 0) {
      freeStack[freeCount++] = pages[count - 1];
      this.filledSlots -= length - (count - 1) * this.pageSize;
    }
    let fullPagesFreed = 0;
    for (let i = count - 2; i >= 0; i--) {
      const page = pages[i];
      if (--refCounts[page] > 0) continue;
      freeStack[freeCount++] = page;
      fullPagesFreed++;
    }
    this.filledSlots -= fullPagesFreed * this.pageSize;
    this.freeCount = freeCount;
    this.pageRefs -= count;
    this.tokensStored -= state.length;
    this.sequences.delete(seq);
    this.lists.give(pages);
  }

  /**
   * The block table [b, maxPages] (int32, entries past a sequence's pages = -1) and cache lengths [b]
   * (int32) of `seqs`, in order. `maxPages` defaults to the longest sequence's page count (at least 1).
   */
  exportBatch(
    seqs: readonly SequenceId[],
    maxPages?: number,
  ): { blockTable: Tensor; cacheSeqlens: Tensor } {
    if (!Array.isArray(seqs)) {
      throw new ArgumentError('seqs', 'an array of sequence ids', describeValue(seqs));
    }
    const states = seqs.map((seq, i) => this.#state(seq, `seqs[${i}]`));
    let widest = 1;
    for (const s of states) widest = Math.max(widest, s.count);
    if (maxPages !== undefined) {
      checkIntegerIn(maxPages, 'maxPages', widest, INT32_MAX, 'the kernels read it as int32');
      widest = maxPages;
    }
    const blockTable = Tensor.zeros([states.length, widest], 'int32');
    const cacheSeqlens = Tensor.zeros([states.length], 'int32');
    blockTable.data.fill(-1);
    states.forEach((s, i) => {
      blockTable.data.set(pagesInUse(s), i * widest);
      cacheSeqlens.data[i] = s.length;
    });
    return { blockTable, cacheSeqlens };
  }

  stats(): KvCacheStats {
    const pagesUsed = this.numPages - this.freeCount;
    const slotsUnused = pagesUsed * this.pageSize - this.filledSlots;
    const pagesSavedBySharing = this.pageRefs - pagesUsed;
    const counts = {
      numPages: this.numPages,
      pageSize: this.pageSize,
      pagesUsed,
      pagesFree: this.freeCount,
      tokensStored: this.tokensStored,
      slotsUnused,
      pagesSavedBySharing,
      numSequences: this.sequences.size,
    };
    const perToken = this.tokenBytes;
    if (perToken === undefined) return counts;
    const perPage = perToken * this.pageSize;
    const bytes = {
      perToken,
      total: this.numPages * perPage,
      used: pagesUsed * perPage,
      unused: slotsUnused * perToken,
      savedBySharing: pagesSavedBySharing * perPage,
    };
    return { ...counts, bytes };
  }

  #state(seq: SequenceId, argument = 'seq'): SequencePages {
    const state = this.sequences.get(seq);
    if (state === undefined) {
      throw new ArgumentError(argument, 'a live sequence id of this cache', describeValue(seq));
    }
    return state;
  }

  /** Whether appending `numTokens` must first copy the last page: it is shared and partly filled. */
  #needsCopy(state: SequencePages, numTokens: number): boolean {
    return (
      numTokens > 0 &&
      state.length % this.pageSize > 0 &&
      this.refCounts[state.pages[state.count - 1]] > 1
    );
  }

  /** Pages appending `numTokens` adds to the sequence beyond the room left in its last page. */
  #freshPages(state: SequencePages, numTokens: number): number {
    const rowsInLast = state.length % this.pageSize;
    const room = rowsInLast > 0 ? this.pageSize - rowsInLast : 0;
    return Math.ceil(Math.max(0, numTokens - room) / this.pageSize);
  }

  /** Checks first, then allocates; returns the copy-on-write copies. */
  #grow(state: SequencePages, numTokens: number): readonly PageCopy[] {
    const cow = this.#needsCopy(state, numTokens);
    const fresh = this.#freshPages(state, numTokens);
    const pagesNeeded = fresh + (cow ? 1 : 0);
    if (pagesNeeded > this.freeCount) throw new OutOfPagesError(pagesNeeded, this.freeCount);
    this.lists.reserve(state, state.count + fresh);
    const { pages } = state;
    const { refCounts, freeStack } = this;
    let copies = NO_COPIES;
    if (cow) {
      // The shared page keeps its rows for the other holders; this sequence continues in a copy.
      const rowsInLast = state.length % this.pageSize;
      const src = pages[state.count - 1];
      const dst = freeStack[--this.freeCount];
      refCounts[dst] = 1;
      refCounts[src]--;
      this.filledSlots += rowsInLast;
      pages[state.count - 1] = dst;
      copies = [{ srcPage: src, dstPage: dst, rows: rowsInLast }];
    }
    // Fresh pages come off the top of the stack, in order.
    let count = state.count;
    let top = this.freeCount;
    for (let k = 0; k < fresh; k++) {
      const page = freeStack[--top];
      refCounts[page] = 1;
      pages[count++] = page;
    }
    state.count = count;
    state.length += numTokens;
    this.freeCount = top;
    this.filledSlots += numTokens;
    this.tokensStored += numTokens;
    this.pageRefs += fresh;
    return copies;
  }
}
