/**
 * Paged allocation with a prefix cache (see PrefixCache): a request's prompt blocks that an earlier
 * request stored are shared, not stored again; the rest of its prompt and its output take pages as
 * under PagedPolicy. Idle cached blocks count as free memory: they are evicted when pages run short,
 * and they are not in the memory held.
 */
import type { SequenceId } from '../kvcache/paged-kv-cache.js';
import type { PrefixStats } from './memory-policy.js';
import { PagedPolicy } from './paged-policy.js';
import { PrefixCache } from './prefix-cache.js';

export interface PagedPrefixPolicyOptions {
  readonly pageSize: number;
  readonly budgetBytes: number;
  readonly bytesPerToken: number;
  readonly numRequests: number;
  /** Each request's prompt tokens: only whole prompt blocks are cached. */
  readonly promptTokens: Int32Array;
  /** Each request's block ids (a trace without them caches nothing). */
  readonly hashIds: readonly Int32Array[] | undefined;
  readonly blockTokens: number;
}

const NO_BLOCKS = new Int32Array(0);

export class PagedPrefixPolicy extends PagedPolicy {
  override readonly name: string;
  readonly prefix: PrefixCache;
  private readonly options: PagedPrefixPolicyOptions;
  /** The cached blocks each running request holds. */
  private readonly chains: Int32Array[];
  private readonly admittedBefore: Uint8Array;
  /** Tokens each request found cached at its latest admission. */
  private readonly hitTokensOf: Int32Array;
  private promptTokensSeen = 0;
  private hitTokens = 0;

  constructor(options: PagedPrefixPolicyOptions) {
    super({ ...options, systemPromptTokens: 0, sharePrefix: false });
    this.name = `paged-${options.pageSize}-prefix`;
    this.options = options;
    this.prefix = new PrefixCache(this.cache, options.blockTokens);
    this.chains = new Array<Int32Array>(options.numRequests).fill(NO_BLOCKS);
    this.admittedBefore = new Uint8Array(options.numRequests);
    this.hitTokensOf = new Int32Array(options.numRequests);
  }

  protected override store(r: number, tokens: number, reserve: number): SequenceId | undefined {
    const { cache, prefix } = this;
    const { blockTokens, promptTokens } = this.options;
    const ids = this.options.hashIds?.[r] ?? NO_BLOCKS;
    // Whole prompt blocks only: the last, partly filled one is the request's own, as in vLLM.
    const blocks = Math.min(ids.length, Math.floor(promptTokens[r] / blockTokens));
    const hits = prefix.match(ids, blocks);
    const rest = tokens - blocks * blockTokens;
    const newPages = (blocks - hits) * prefix.pagesPerBlock + Math.ceil(rest / cache.pageSize);
    // The idle blocks it hits are its own now, not pages to evict.
    const evictable = prefix.idlePages - prefix.idleMatched * prefix.pagesPerBlock;
    if (newPages + reserve > cache.pagesFree + evictable) return undefined;
    const seq = cache.createSequence();
    this.chains[r] = prefix.acquire(seq, ids, blocks, newPages);
    cache.extend(seq, rest);
    this.hitTokensOf[r] = hits * blockTokens;
    if (this.admittedBefore[r] === 0) {
      this.admittedBefore[r] = 1;
      this.promptTokensSeen += promptTokens[r];
      this.hitTokens += hits * blockTokens;
    }
    return seq;
  }

  override sharedTokens(r: number): number {
    return this.hitTokensOf[r];
  }

  protected override hasFreePage(): boolean {
    return this.cache.pagesFree > 0 || this.prefix.evictOne();
  }

  override release(r: number): void {
    super.release(r);
    this.prefix.release(this.chains[r]);
    this.chains[r] = NO_BLOCKS;
  }

  override slotsInUse(): number {
    return super.slotsInUse() - this.prefix.idlePages * this.cache.pageSize;
  }

  prefixStats(): PrefixStats {
    const { promptTokensSeen: promptTokens, hitTokens, prefix } = this;
    return {
      promptTokens,
      hitTokens,
      hitRate: promptTokens > 0 ? hitTokens / promptTokens : 0,
      blocksStored: prefix.blocksStored,
      blocksEvicted: prefix.blocksEvicted,
    };
  }
}
