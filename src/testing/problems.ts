/**
 * Random decode problems, built as FlashMLA's tests build them: q and the caches drawn from
 * clamp(randn / 10, -1, 1), pages permuted over a pool, poison wherever a kernel must not read.
 */
import type { NarrowFloatDType } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { Random, sequenceLengths } from './random.js';
import { makePagedCache, makePagedLayout, randomTensor, type PagedLayout } from './paged-layout.js';

export interface ProblemOptions {
  /** Batch size; with `seqlens` given, its length. */
  readonly b?: number;
  readonly sQ: number;
  readonly hQ: number;
  readonly hKv?: number;
  readonly pageSize: number;
  /** Explicit lengths; otherwise drawn from sK (and varlen). */
  readonly seqlens?: readonly number[];
  readonly sK?: number;
  /** Lengths max(round(normal(sK, sK / 2)), sQ) instead of all sK. */
  readonly varlen?: boolean;
  readonly dtype?: NarrowFloatDType;
  readonly seed: number;
  /**
   * NaN in unused cache rows and garbage block-table entries past the last pages (default true).
   * With false, the same problem (identical used data) with zeros there instead.
   */
  readonly poison?: boolean;
  /** Free pages in the pool besides the used ones. */
  readonly extraPages?: number;
}

export interface MlaProblemOptions extends ProblemOptions {
  /** Head dim of q and k. Default 576. */
  readonly dQk?: number;
  /** Head dim of v (the first dV entries of k). Default 512. */
  readonly dV?: number;
}

export interface GqaProblemOptions extends ProblemOptions {
  /** Head dim of q, k and v. */
  readonly d: number;
}

interface Common {
  readonly layout: PagedLayout;
  readonly seqlens: readonly number[];
  readonly blockTable: Tensor;
  readonly cacheSeqlens: Tensor;
  readonly q: Tensor;
}

export interface MlaProblem extends Common {
  readonly kvCache: Tensor;
  readonly headDimV: number;
}

export interface GqaProblem extends Common {
  readonly kCache: Tensor;
  readonly vCache: Tensor;
}

function lengthsOf(rng: Random, options: ProblemOptions): readonly number[] {
  if (options.seqlens) return options.seqlens;
  if (options.b === undefined || options.sK === undefined) {
    throw new Error('a problem needs seqlens, or b and sK');
  }
  return sequenceLengths(rng, options.b, options.sK, options.sQ, options.varlen ?? false);
}

function makeCommon(rng: Random, options: ProblemOptions, dQk: number): Common {
  const seqlens = lengthsOf(rng, options);
  const layout = makePagedLayout(rng, {
    seqlens,
    pageSize: options.pageSize,
    extraPages: options.extraPages,
    poison: options.poison,
  });
  const q = randomTensor(
    rng,
    [seqlens.length, options.sQ, options.hQ, dQk],
    options.dtype ?? 'bfloat16',
  );
  return {
    layout,
    seqlens,
    blockTable: layout.blockTable,
    cacheSeqlens: layout.cacheSeqlens,
    q,
  };
}

export function makeMlaProblem(options: MlaProblemOptions): MlaProblem {
  const rng = new Random(options.seed);
  const dQk = options.dQk ?? 576;
  const common = makeCommon(rng, options, dQk);
  const kvCache = makePagedCache(
    rng,
    common.layout,
    options.hKv ?? 1,
    dQk,
    options.dtype ?? 'bfloat16',
    options.poison ?? true,
  );
  return { ...common, kvCache, headDimV: options.dV ?? 512 };
}

export function makeGqaProblem(options: GqaProblemOptions): GqaProblem {
  const rng = new Random(options.seed);
  const common = makeCommon(rng, options, options.d);
  const dtype = options.dtype ?? 'bfloat16';
  const poison = options.poison ?? true;
  const hKv = options.hKv ?? 1;
  const kCache = makePagedCache(rng, common.layout, hKv, options.d, dtype, poison);
  const vCache = makePagedCache(rng, common.layout, hKv, options.d, dtype, poison);
  return { ...common, kCache, vCache };
}
