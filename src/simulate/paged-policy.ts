/**
 * Paged allocation through the package's own PagedKvCache: one pool of whole pages sized from the
 * budget, a page taken when a request's last page is full, every page returned when it ends.
 * With prefix sharing, one sequence holds the common system prompt for the whole run and every
 * request forks it, so the prompt's full pages are stored once (its partly filled last page is
 * copied on write by each request).
 *
 * A decode token that lands in room left in a request's own last page takes no page, so it is only
 * counted here and handed to the cache with the next token that needs a page (or dropped with the
 * request): the cache takes and frees the same pages at the same steps, at a fraction of the calls.
 */
import { ArgumentError } from '../errors.js';
import { PagedKvCache, type SequenceId } from '../kvcache/paged-kv-cache.js';
import type { Admission, MemoryPolicy } from './memory-policy.js';

export interface PagedPolicyOptions {
  readonly pageSize: number;
  readonly budgetBytes: number;
  readonly bytesPerToken: number;
  readonly numRequests: number;
  /** Tokens of the system prompt every request starts with; shared when `sharePrefix`. */
  readonly systemPromptTokens: number;
  readonly sharePrefix: boolean;
}

export class PagedPolicy implements MemoryPolicy {
  readonly name: string;
  readonly capacitySlots: number;
  readonly cache: PagedKvCache;
  private readonly seqOf: Int32Array;
  /** Each request's length (the cache knows it too; kept here to spare a lookup per token). */
  private readonly length: Int32Array;
  /** Tokens of each request counted here but not yet appended to the cache (see above). */
  private readonly pending: Int32Array;
  private pendingTotal = 0;
  /** 1 while a request's last page is the shared prompt's partly filled one (copied at its next token). */
  private readonly sharedTail: Uint8Array;
  /** Running requests whose last page is full: each takes a page at its next token. */
  private atPageEnd = 0;
  /** The sequence holding the shared system prompt, or undefined without sharing. */
  private readonly root: SequenceId | undefined;
  private readonly prefixTokens: number;
  /** Pages left for requests once the shared prompt is stored. */
  private readonly pagesForRequests: number;

  constructor(options: PagedPolicyOptions) {
    const { pageSize, budgetBytes, bytesPerToken } = options;
    const numPages = Math.floor(budgetBytes / (pageSize * bytesPerToken));
    if (numPages < 1) {
      throw new ArgumentError(
        'budget',
        `at least one page (${pageSize * bytesPerToken} bytes)`,
        `${budgetBytes} bytes`,
      );
    }
    this.name = `paged-${pageSize}${options.sharePrefix ? '-shared' : ''}`;
    this.cache = new PagedKvCache({ numPages, pageSize });
    this.capacitySlots = numPages * pageSize;
    this.seqOf = new Int32Array(options.numRequests);
    this.length = new Int32Array(options.numRequests);
    this.pending = new Int32Array(options.numRequests);
    this.sharedTail = new Uint8Array(options.numRequests);
    this.prefixTokens = options.sharePrefix ? options.systemPromptTokens : 0;
    if (this.prefixTokens > 0) {
      this.root = this.cache.createSequence();
      this.cache.extend(this.root, this.prefixTokens);
    }
    this.pagesForRequests = this.cache.pagesFree;
  }

  /**
   * Pages a request of `tokens` tokens holds of its own: all its pages but the shared prompt's full
   * pages (a partly filled last page of the prompt is copied on its first append).
   */
  private ownPages(tokens: number): number {
    const ps = this.cache.pageSize;
    return Math.ceil(tokens / ps) - Math.floor(this.prefixTokens / ps);
  }

  fitsAlone(finalTokens: number): boolean {
    // Its own pages, and the one admission may keep free.
    return this.ownPages(finalTokens) + 1 <= this.pagesForRequests;
  }

  admit(r: number, tokens: number): Admission {
    // Keep a free page for every running request (the new one included) whose last page is full,
    // so that the decode step after an admission cannot run out of pages.
    const endsPage = tokens % this.cache.pageSize === 0 ? 1 : 0;
    const seq = this.store(r, tokens, this.atPageEnd + endsPage);
    if (seq === undefined) return 'no-memory';
    this.seqOf[r] = seq;
    this.length[r] = tokens;
    this.sharedTail[r] = this.root !== undefined && tokens === this.prefixTokens ? 1 : 0;
    this.atPageEnd += endsPage;
    return 'admitted';
  }

  /**
   * A new sequence holding the first `tokens` tokens of request `r` with `reserve` pages left free,
   * or undefined, changing nothing, when memory is short.
   */
  protected store(_r: number, tokens: number, reserve: number): SequenceId | undefined {
    const { cache } = this;
    if (this.ownPages(tokens) + reserve > cache.pagesFree) return undefined;
    const seq = this.root === undefined ? cache.createSequence() : cache.fork(this.root);
    cache.extend(seq, tokens - this.prefixTokens);
    return seq;
  }

  /** Whether a growing request finds a free page (a prefix cache may evict to make one). */
  protected hasFreePage(): boolean {
    return this.cache.pagesFree > 0;
  }

  grow(r: number): boolean {
    const ps = this.cache.pageSize;
    const length = this.length[r];
    if (length % ps !== 0 && this.sharedTail[r] === 0) {
      // Room in its own last page: no page changes hands.
      this.pending[r]++;
      this.pendingTotal++;
    } else {
      // A fresh page, or the copy of the shared one: one page either way.
      if (!this.hasFreePage()) return false;
      this.cache.extend(this.seqOf[r] as SequenceId, this.pending[r] + 1);
      this.pendingTotal -= this.pending[r];
      this.pending[r] = 0;
      this.sharedTail[r] = 0;
    }
    if (length % ps === 0) this.atPageEnd--;
    this.length[r] = length + 1;
    if ((length + 1) % ps === 0) this.atPageEnd++;
    return true;
  }

  sharedTokens(_r: number): number {
    return this.prefixTokens;
  }

  release(r: number): void {
    this.cache.free(this.seqOf[r] as SequenceId);
    this.pendingTotal -= this.pending[r];
    this.pending[r] = 0;
    if (this.length[r] % this.cache.pageSize === 0) this.atPageEnd--;
  }

  slotsInUse(): number {
    return (this.cache.numPages - this.cache.pagesFree) * this.cache.pageSize;
  }

  slotsUnused(): number {
    // The pending tokens fill slots the cache still counts as empty.
    return this.cache.stats().slotsUnused - this.pendingTotal;
  }

  fragmentedSlots(): number {
    // Any free page serves any request: pages have no external fragmentation.
    return 0;
  }
}
