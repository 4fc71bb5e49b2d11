/**
 * Automatic prefix caching over a PagedKvCache, after vLLM's: a prompt's full blocks (of
 * `blockTokens` tokens, one hash id each) are stored in block sequences of their own, and a block
 * is known by the chain of ids up to it, so equal ids at another position or after another prefix
 * do not match. A request shares the cached blocks its prompt starts with (reference counts, no
 * new page) and stores the rest as new blocks, cached for the requests after it. A block no running
 * request holds stays cached, idle, and idle blocks are evicted least recently used first, only when
 * pages are needed.
 */
import { ArgumentError } from '../errors.js';
import type { PagedKvCache, SequenceId } from '../kvcache/paged-kv-cache.js';

const NONE = -1;
/** Node 0 is the root of every chain and the sentinel of the idle list. */
const ROOT = 0;

export class PrefixCache {
  readonly pagesPerBlock: number;
  /** Blocks stored in new pages, and blocks evicted, over the whole run. */
  blocksStored = 0;
  blocksEvicted = 0;
  /** Set by `match`: how many of the blocks it found are idle (held by no running request). */
  idleMatched = 0;
  /** Chain (parent node, hash id) to node. */
  private readonly nodes = new Map<string, number>();
  /** Per node: the sequence holding its pages (NONE when not cached), its running requests. */
  private readonly holder: number[] = [NONE];
  private readonly users: number[] = [0];
  /** The idle list, least recently used first, doubly linked through the root. */
  private readonly prev: number[] = [ROOT];
  private readonly next: number[] = [ROOT];
  private idleBlocks = 0;

  constructor(
    private readonly cache: PagedKvCache,
    readonly blockTokens: number,
  ) {
    if (blockTokens % cache.pageSize !== 0) {
      throw new ArgumentError(
        'pageSize',
        `a divisor of the prefix block size (${blockTokens} tokens)`,
        String(cache.pageSize),
      );
    }
    this.pagesPerBlock = blockTokens / cache.pageSize;
  }

  /** Pages that evicting every idle block would free. */
  get idlePages(): number {
    return this.idleBlocks * this.pagesPerBlock;
  }

  /** How many of the first `blocks` of `ids` are cached, leading; sets `idleMatched`. */
  match(ids: Int32Array, blocks: number): number {
    let parent = ROOT;
    let idle = 0;
    let hits = 0;
    for (; hits < blocks; hits++) {
      const node = this.nodes.get(`${parent},${ids[hits]}`);
      if (node === undefined || this.holder[node] === NONE) break;
      if (this.users[node] === 0) idle++;
      parent = node;
    }
    this.idleMatched = idle;
    return hits;
  }

  /**
   * Appends the first `blocks` blocks of `ids` to `seq` (which must be empty): cached ones shared,
   * the others stored in new pages after evicting idle blocks until `pagesWanted` pages are free.
   * The caller has checked that they will be. Returns the blocks' nodes, for `release`.
   */
  acquire(seq: SequenceId, ids: Int32Array, blocks: number, pagesWanted: number): Int32Array {
    const chain = new Int32Array(blocks);
    const hits = this.match(ids, blocks);
    let parent = ROOT;
    // Hold the hits first, so that the eviction below cannot take them.
    for (let j = 0; j < hits; j++) {
      parent = this.nodes.get(`${parent},${ids[j]}`)!;
      this.hold(parent);
      chain[j] = parent;
    }
    while (this.cache.pagesFree < pagesWanted && this.evictOne());
    for (let j = hits; j < blocks; j++) {
      const key = `${parent},${ids[j]}`;
      let node = this.nodes.get(key);
      if (node === undefined) {
        node = this.holder.length;
        this.nodes.set(key, node);
        this.holder.push(NONE);
        this.users.push(0);
        this.prev.push(NONE);
        this.next.push(NONE);
      }
      if (this.holder[node] === NONE) {
        const block = this.cache.createSequence();
        this.cache.extend(block, this.blockTokens);
        this.holder[node] = block;
        this.blocksStored++;
      }
      this.hold(node);
      chain[j] = node;
      parent = node;
    }
    for (let j = 0; j < blocks; j++) {
      this.cache.appendShared(seq, this.holder[chain[j]] as SequenceId);
    }
    return chain;
  }

  /** A request holding `chain` ended (its own sequence already freed). */
  release(chain: Int32Array): void {
    // Last block first, so that a chain's tail is evicted before its head (a head without its tail
    // still serves shorter prompts; a tail without its head serves none).
    for (let j = chain.length - 1; j >= 0; j--) {
      const node = chain[j];
      if (--this.users[node] > 0) continue;
      const last = this.prev[ROOT];
      this.prev[node] = last;
      this.next[node] = ROOT;
      this.next[last] = node;
      this.prev[ROOT] = node;
      this.idleBlocks++;
    }
  }

  /** Frees the least recently used idle block; false when none is idle. */
  evictOne(): boolean {
    const node = this.next[ROOT];
    if (node === ROOT) return false;
    this.unlink(node);
    this.cache.free(this.holder[node] as SequenceId);
    this.holder[node] = NONE;
    this.blocksEvicted++;
    return true;
  }

  private hold(node: number): void {
    // Idle blocks are the linked ones; a block just stored is not.
    if (this.users[node]++ === 0 && this.prev[node] !== NONE) this.unlink(node);
  }

  private unlink(node: number): void {
    const { prev, next } = this;
    next[prev[node]] = next[node];
    prev[next[node]] = prev[node];
    prev[node] = NONE;
    next[node] = NONE;
    this.idleBlocks--;
  }
}
