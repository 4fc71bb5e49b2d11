/**
 * Random paged layouts for tests: pages randomly permuted over a pool with free pages in it, and
 * everything a correct kernel must not read made poisonous: cache rows past each sequence's length
 * and in free pages hold NaN, block-table entries past each sequence's last page hold garbage.
 */
import { allocHostArray, encode, type NarrowFloatDType } from '../dtype.js';
import { Tensor } from '../tensor.js';
import { attentionValue, type Random } from './random.js';
import { maxOf } from '../extremes.js';

/** Block-table entries that no kernel may follow: out of range in both directions. */
const GARBAGE_PAGES = [-1, -2147483648, 2147483647, 1 << 30, -777];

export interface PagedLayout {
  readonly numPages: number;
  readonly pageSize: number;
  readonly maxPages: number;
  readonly seqlens: readonly number[];
  /** The pages of each sequence, in order. */
  readonly pages: readonly (readonly number[])[];
  /** [b, maxPages] int32. */
  readonly blockTable: Tensor;
  /** [b] int32. */
  readonly cacheSeqlens: Tensor;
  /** usedRows[page * pageSize + row] is 1 where a sequence's token lives. */
  readonly usedRows: Uint8Array;
}

export interface LayoutOptions {
  readonly seqlens: readonly number[];
  readonly pageSize: number;
  /** Unused pages in the pool besides those the sequences need. Default: a quarter more, at least 1. */
  readonly extraPages?: number;
  /** Garbage past the last pages (default). With false the same entries hold 0, a valid page. */
  readonly poison?: boolean;
}

export function makePagedLayout(rng: Random, options: LayoutOptions): PagedLayout {
  const { seqlens, pageSize } = options;
  const poison = options.poison ?? true;
  const pagesNeeded = seqlens.map((l) => Math.ceil(l / pageSize));
  const totalNeeded = pagesNeeded.reduce((a, n) => a + n, 0);
  const numPages = totalNeeded + (options.extraPages ?? Math.max(1, Math.ceil(totalNeeded / 4)));
  // One column more than the longest sequence needs, so every row has entries past its pages.
  const maxPages = maxOf(pagesNeeded, 0) + 1;

  const pool = rng.shuffle(Array.from({ length: numPages }, (_, p) => p));
  const pages: number[][] = [];
  let next = 0;
  for (const n of pagesNeeded) {
    pages.push(pool.slice(next, next + n));
    next += n;
  }

  const table = new Int32Array(seqlens.length * maxPages);
  for (let i = 0; i < seqlens.length; i++) {
    for (let p = 0; p < maxPages; p++) {
      // Drawn even when unused, so that poisoned and clean layouts see the same random stream.
      const garbage = GARBAGE_PAGES[rng.int(0, GARBAGE_PAGES.length)];
      table[i * maxPages + p] = p < pages[i].length ? pages[i][p] : poison ? garbage : 0;
    }
  }

  const usedRows = new Uint8Array(numPages * pageSize);
  for (let i = 0; i < seqlens.length; i++) {
    for (let t = 0; t < seqlens[i]; t++) {
      usedRows[pages[i][Math.floor(t / pageSize)] * pageSize + (t % pageSize)] = 1;
    }
  }

  return {
    numPages,
    pageSize,
    maxPages,
    seqlens,
    pages,
    blockTable: new Tensor('int32', [seqlens.length, maxPages], table),
    cacheSeqlens: Tensor.from(seqlens, [seqlens.length], 'int32'),
    usedRows,
  };
}

/**
 * A cache [numPages, pageSize, hKv, d] of random values; rows no sequence uses hold NaN (poison)
 * or 0 (clean). Every row is drawn either way, so both variants share their used rows exactly.
 */
export function makePagedCache(
  rng: Random,
  layout: PagedLayout,
  hKv: number,
  d: number,
  dtype: NarrowFloatDType,
  poison: boolean,
): Tensor {
  const { numPages, pageSize, usedRows } = layout;
  const rowLength = hKv * d;
  const data = allocHostArray(dtype, numPages * pageSize * rowLength) as Uint16Array;
  const unused = encode(dtype, poison ? NaN : 0);
  for (let slot = 0; slot < numPages * pageSize; slot++) {
    const base = slot * rowLength;
    for (let c = 0; c < rowLength; c++) {
      const value = Math.fround(attentionValue(rng));
      data[base + c] = usedRows[slot] ? encode(dtype, value) : unused;
    }
  }
  return new Tensor(dtype, [numPages, pageSize, hKv, d], data);
}

/** A random tensor of attention values (queries, new rows). */
export function randomTensor(
  rng: Random,
  shape: readonly number[],
  dtype: NarrowFloatDType,
): Tensor {
  const n = shape.reduce((a, s) => a * s, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = attentionValue(rng);
  return Tensor.from(values, shape, dtype);
}
