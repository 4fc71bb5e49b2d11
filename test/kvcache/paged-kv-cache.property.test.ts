/**
 * Random operation sequences against the cache, with a shadow cache tensor: after every step the
 * reference counts, statistics and token contents are recomputed from scratch and compared.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ArgumentError, OutOfPagesError } from '../../src/errors.js';
import { applyPageCopies } from '../../src/kvcache/page-copies.js';
import { PagedKvCache, type SequenceId } from '../../src/kvcache/paged-kv-cache.js';
import { Tensor } from '../../src/tensor.js';

type Op =
  | { kind: 'create' }
  | { kind: 'append'; pick: number; numTokens: number }
  | { kind: 'fork'; pick: number }
  | { kind: 'free'; pick: number }
  | { kind: 'export'; picks: number[] };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'create' as const }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      pick: fc.nat(),
      numTokens: fc.oneof(
        { weight: 12, arbitrary: fc.integer({ min: 0, max: 11 }) },
        fc.constant(-1),
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('fork' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('export' as const),
      picks: fc.array(fc.nat(), { maxLength: 4 }),
    }),
  },
);

/** The test's own view: the token ids each live sequence was given, in order. */
class Harness {
  readonly cache: PagedKvCache;
  /** Shadow cache [numPages, pageSize, 2]: a token's id and its negation. */
  readonly shadow: Tensor;
  readonly tokens = new Map<SequenceId, number[]>();
  /** Every id ever created, live or freed, so that operations also hit freed ids. */
  readonly everyId: SequenceId[] = [];
  private nextToken = 1 + Math.floor(Math.random() * 1000);
  /** How often the interesting cases happened, so the tests can check the generator reaches them. */
  copiesApplied = 0;
  outOfPagesThrown = 0;

  constructor(
    readonly numPages: number,
    readonly pageSize: number,
  ) {
    this.cache = new PagedKvCache({ numPages, pageSize });
    this.shadow = Tensor.zeros([numPages, pageSize, 2], 'int32');
    this.shadow.data.fill(-777);
  }

  pick(n: number): SequenceId | undefined {
    return this.everyId.length === 0 ? undefined : this.everyId[n % this.everyId.length];
  }

  /** Pages a successful append would take, from the definition (copy of a shared partial page). */
  pagesNeeded(seq: SequenceId, numTokens: number): number {
    const len = this.tokens.get(seq)!.length;
    const pages = this.cache.pages(seq);
    const ps = this.pageSize;
    const fresh = Math.ceil((len + numTokens) / ps) - Math.ceil(len / ps);
    const shared = pages.length > 0 && this.holders().get(pages[pages.length - 1])! > 1;
    return fresh + (numTokens > 0 && len % ps !== 0 && shared ? 1 : 0);
  }

  holders(): Map<number, number> {
    const count = new Map<number, number>();
    for (const seq of this.tokens.keys()) {
      for (const page of this.cache.pages(seq)) count.set(page, (count.get(page) ?? 0) + 1);
    }
    return count;
  }

  run(op: Op): void {
    const { cache } = this;
    switch (op.kind) {
      case 'create': {
        const seq = cache.createSequence();
        this.everyId.push(seq);
        this.tokens.set(seq, []);
        return;
      }
      case 'append': {
        const seq = this.pick(op.pick);
        if (seq === undefined) return;
        const live = this.tokens.get(seq);
        if (live === undefined || op.numTokens < 0) {
          this.expectUnchanged(() => cache.append(seq, op.numTokens), ArgumentError);
          return;
        }
        const needed = this.pagesNeeded(seq, op.numTokens);
        const free = cache.stats().pagesFree;
        if (needed > free) {
          this.expectUnchanged(
            () => cache.append(seq, op.numTokens),
            OutOfPagesError,
            (e) => e.needed === needed && e.free === free,
          );
          this.outOfPagesThrown++;
          return;
        }
        const { slotMapping, copies } = cache.append(seq, op.numTokens);
        assert.equal(slotMapping.length, op.numTokens);
        assert.equal(free - cache.stats().pagesFree, needed);
        applyPageCopies(this.shadow, copies);
        this.copiesApplied += copies.length;
        for (const slot of slotMapping) {
          const id = this.nextToken++;
          this.shadow.data[slot * 2] = id;
          this.shadow.data[slot * 2 + 1] = -id;
          live.push(id);
        }
        return;
      }
      case 'fork': {
        const seq = this.pick(op.pick);
        if (seq === undefined) return;
        const live = this.tokens.get(seq);
        if (live === undefined) {
          this.expectUnchanged(() => cache.fork(seq), ArgumentError);
          return;
        }
        const child = cache.fork(seq);
        this.everyId.push(child);
        this.tokens.set(child, live.slice());
        return;
      }
      case 'free': {
        const seq = this.pick(op.pick);
        if (seq === undefined) return;
        if (!this.tokens.has(seq)) {
          this.expectUnchanged(() => cache.free(seq), ArgumentError);
          return;
        }
        cache.free(seq);
        this.tokens.delete(seq);
        return;
      }
      case 'export': {
        const seqs = op.picks.map((p) => this.pick(p)).filter((s) => s !== undefined);
        if (seqs.some((s) => !this.tokens.has(s))) {
          this.expectUnchanged(() => cache.exportBatch(seqs), ArgumentError);
          return;
        }
        this.checkContents(seqs);
        return;
      }
    }
  }

  expectUnchanged<E extends Error>(
    operation: () => unknown,
    errorClass: new (...args: never[]) => E,
    check: (e: E) => boolean = () => true,
  ): void {
    const before = structuredClone({ ...this.cache });
    assert.throws(operation, (e: unknown) => e instanceof errorClass && check(e));
    assert.deepStrictEqual(structuredClone({ ...this.cache }), before);
  }

  /** Reads every token of `seqs` back through the exported block table. */
  checkContents(seqs: readonly SequenceId[]): void {
    const { blockTable, cacheSeqlens } = this.cache.exportBatch(seqs);
    const width = blockTable.shape[1];
    seqs.forEach((seq, i) => {
      const ids = this.tokens.get(seq)!;
      const numPages = Math.ceil(ids.length / this.pageSize);
      assert.equal(cacheSeqlens.data[i], ids.length);
      for (let k = numPages; k < width; k++) assert.equal(blockTable.data[i * width + k], -1);
      ids.forEach((id, t) => {
        const page = blockTable.data[i * width + Math.floor(t / this.pageSize)];
        const slot = page * this.pageSize + (t % this.pageSize);
        assert.equal(this.shadow.data[slot * 2], id, `sequence ${seq} token ${t}`);
        assert.equal(this.shadow.data[slot * 2 + 1], -id);
      });
    });
  }

  checkInvariants(): void {
    const { cache, pageSize, numPages } = this;
    const holders = this.holders();
    const fill = new Map<number, number>();
    let tokensStored = 0;
    for (const [seq, ids] of this.tokens) {
      assert.equal(cache.length(seq), ids.length);
      const pages = cache.pages(seq);
      assert.equal(pages.length, Math.ceil(ids.length / pageSize));
      pages.forEach((page, k) => {
        const rows = Math.min(pageSize, ids.length - k * pageSize);
        fill.set(page, Math.max(fill.get(page) ?? 0, rows));
      });
      tokensStored += ids.length;
    }
    for (let page = 0; page < numPages; page++) {
      assert.equal(cache.refCount(page), holders.get(page) ?? 0, `refCount of page ${page}`);
    }
    let slotsUnused = 0;
    let saved = 0;
    for (const [page, count] of holders) {
      slotsUnused += pageSize - fill.get(page)!;
      saved += count - 1;
    }
    const stats = cache.stats();
    assert.deepEqual(stats, {
      numPages,
      pageSize,
      pagesUsed: holders.size,
      pagesFree: numPages - holders.size,
      tokensStored,
      slotsUnused,
      pagesSavedBySharing: saved,
      numSequences: this.tokens.size,
    });
    assert.equal(stats.pagesUsed + stats.pagesFree, numPages);
    this.checkContents([...this.tokens.keys()]);
  }
}

function runOps(numPages: number, pageSize: number, ops: readonly Op[]): Harness {
  const harness = new Harness(numPages, pageSize);
  for (const op of ops) {
    harness.run(op);
    harness.checkInvariants();
  }
  return harness;
}

test('random operation sequences keep counts, statistics and token contents exact', () => {
  let outOfPages = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 5 }),
      fc.array(opArb, { maxLength: 80, size: 'max' }),
      (numPages, pageSize, ops) => {
        outOfPages += runOps(numPages, pageSize, ops).outOfPagesThrown;
      },
    ),
    { numRuns: 600 },
  );
  // The generator must actually reach the interesting cases.
  assert.ok(outOfPages > 1000, `only ${outOfPages} appends ran out of pages`);
});

test('long runs on a roomy pool fork, share and copy on write many times', () => {
  let copies = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.array(opArb, { minLength: 150, maxLength: 300, size: 'max' }),
      (pageSize, ops) => {
        copies += runOps(40, pageSize, ops).copiesApplied;
      },
    ),
    { numRuns: 60 },
  );
  assert.ok(copies > 50, `only ${copies} copy-on-write copies`);
});
