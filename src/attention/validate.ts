/**
 * Shape, dtype and stride checks of the attention operations' arguments. They look only at what
 * every tensor describes about itself (TensorLike), so they run unchanged for host and device
 * tensors, before any backend sees the arguments. Content checks (sequence lengths, block-table
 * entries, slots) need the values and live in validate-contents.ts.
 */
import { ArgumentError } from '../errors.js';
import { checkTensorLike } from '../check-tensor.js';
import { describeValue } from '../describe-value.js';
import type { DType } from '../dtype.js';
import type { TensorLike } from '../tensor.js';
import type { DecodeOptions } from '../backend/backend.js';
import { checkScheduleSizes, METADATA_ROW_WIDTH } from '../schedule/index.js';

/** The element types attention reads queries and caches in. */
export const ATTENTION_DTYPES: readonly DType[] = ['bfloat16', 'float16'];

/** Head dims the GQA decode supports (those the GPU kernels are built for). */
export const GQA_HEAD_DIMS: readonly number[] = [64, 128, 256];

/** The sizes every MLA / GQA decode call is made of, read off validated arguments. */
export interface DecodeShapes {
  readonly b: number;
  readonly sQ: number;
  readonly hQ: number;
  readonly hKv: number;
  /** Head dim of queries and keys. */
  readonly dQk: number;
  /** Head dim of values (and of the output). */
  readonly dV: number;
  readonly numPages: number;
  readonly pageSize: number;
  readonly maxPages: number;
  readonly numSmParts: number;
}

function describeShape(t: TensorLike): string {
  return `[${t.shape.join(', ')}]`;
}

/** `t` has `rank` dimensions; `layout` names them for the message, e.g. '[b, s_q, h_q, d_qk]'. */
export function checkRank(t: TensorLike, name: string, rank: number, layout: string): void {
  if (t.shape.length !== rank) {
    throw new ArgumentError(
      name,
      `a tensor of rank ${rank} ${layout}`,
      `rank ${t.shape.length} ${describeShape(t)}`,
    );
  }
}

export function checkDType(t: TensorLike, name: string, allowed: readonly DType[]): void {
  if (!allowed.includes(t.dtype)) {
    throw new ArgumentError(name, `dtype ${allowed.join(' or ')}`, `dtype ${t.dtype}`);
  }
}

/** Dimension `dim` of `t` equals `expected`; `why` says where the expected size comes from. */
export function checkDim(
  t: TensorLike,
  name: string,
  dim: number,
  expected: number,
  why: string,
): void {
  if (t.shape[dim] !== expected) {
    throw new ArgumentError(
      `${name}.shape[${dim}]`,
      `${expected} (${why})`,
      `${t.shape[dim]} (shape ${describeShape(t)})`,
    );
  }
}

/** Dimension `dim` of `t` is at least `min`. */
export function checkDimAtLeast(
  t: TensorLike,
  name: string,
  dim: number,
  min: number,
  what: string,
): void {
  if (!(t.shape[dim] >= min)) {
    throw new ArgumentError(
      `${name}.shape[${dim}]`,
      `${what} >= ${min}`,
      `${t.shape[dim]} (shape ${describeShape(t)})`,
    );
  }
}

/** The innermost dimension is dense (stride 1), as every kernel reads rows as vectors. */
export function checkLastDimContiguous(t: TensorLike, name: string): void {
  const last = t.shape.length - 1;
  if (last >= 0 && t.shape[last] > 1 && t.strides[last] !== 1) {
    throw new ArgumentError(
      `${name}.strides[${last}]`,
      '1 (a contiguous last dimension)',
      `${t.strides[last]}`,
    );
  }
}

/** Arguments of getMlaMetadata. */
export function validateGetMlaMetadata(
  cacheSeqlens: unknown,
  numQTokensPerHeadK: unknown,
  numHeadsK: unknown,
  numSms: unknown,
): void {
  checkTensorLike(cacheSeqlens, 'cacheSeqlens');
  checkRank(cacheSeqlens, 'cacheSeqlens', 1, '[b]');
  checkDType(cacheSeqlens, 'cacheSeqlens', ['int32']);
  checkScheduleSizes(numSms, numQTokensPerHeadK, numHeadsK);
}

/** The options of a decode call with their defaults filled in. */
export function resolveDecodeOptions(
  options: DecodeOptions | undefined,
  dQk: number,
): Required<DecodeOptions> {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new ArgumentError('options', 'an object or undefined', describeValue(options));
  }
  const softmaxScale = options?.softmaxScale ?? 1 / Math.sqrt(dQk);
  if (typeof softmaxScale !== 'number' || !Number.isFinite(softmaxScale) || softmaxScale <= 0) {
    throw new ArgumentError(
      'options.softmaxScale',
      'a finite number > 0',
      describeValue(softmaxScale),
    );
  }
  const causal = options?.causal ?? false;
  if (typeof causal !== 'boolean') {
    throw new ArgumentError('options.causal', 'a boolean', describeValue(causal));
  }
  return { softmaxScale, causal };
}

interface CommonDecodeArgs {
  readonly q: unknown;
  readonly blockTable: unknown;
  readonly cacheSeqlens: unknown;
  readonly tileSchedulerMetadata: unknown;
  readonly numSplits: unknown;
}

/** Checks q, one paged cache, the block table, lengths and schedule; returns the sizes. */
function validateCommon(
  args: CommonDecodeArgs,
  cacheName: string,
  cache: unknown,
): Omit<DecodeShapes, 'dV'> {
  const { q, blockTable, cacheSeqlens, tileSchedulerMetadata, numSplits } = args;
  checkTensorLike(q, 'q');
  checkRank(q, 'q', 4, '[b, s_q, h_q, d]');
  checkDType(q, 'q', ATTENTION_DTYPES);
  checkDimAtLeast(q, 'q', 1, 1, 's_q');
  checkDimAtLeast(q, 'q', 2, 1, 'h_q');
  checkDimAtLeast(q, 'q', 3, 1, 'the head dim');
  checkLastDimContiguous(q, 'q');
  const [b, sQ, hQ, dQk] = q.shape;

  checkTensorLike(cache, cacheName);
  checkRank(cache, cacheName, 4, '[numPages, pageSize, h_kv, d]');
  if (cache.dtype !== q.dtype) {
    throw new ArgumentError(cacheName, `dtype ${q.dtype} (the dtype of q)`, `dtype ${cache.dtype}`);
  }
  checkDimAtLeast(cache, cacheName, 1, 1, 'pageSize');
  checkDimAtLeast(cache, cacheName, 2, 1, 'h_kv');
  checkDim(cache, cacheName, 3, dQk, 'the head dim of q');
  checkLastDimContiguous(cache, cacheName);
  const [numPages, pageSize, hKv] = cache.shape;
  if (hQ % hKv !== 0) {
    throw new ArgumentError(
      `${cacheName}.shape[2]`,
      `a divisor of h_q = ${hQ} (each KV head serves h_q / h_kv query heads)`,
      `${hKv}`,
    );
  }

  checkTensorLike(blockTable, 'blockTable');
  checkRank(blockTable, 'blockTable', 2, '[b, maxPages]');
  checkDType(blockTable, 'blockTable', ['int32']);
  checkDim(blockTable, 'blockTable', 0, b, 'b, the batch size of q');
  checkLastDimContiguous(blockTable, 'blockTable');
  const maxPages = blockTable.shape[1];

  checkTensorLike(cacheSeqlens, 'cacheSeqlens');
  checkRank(cacheSeqlens, 'cacheSeqlens', 1, '[b]');
  checkDType(cacheSeqlens, 'cacheSeqlens', ['int32']);
  checkDim(cacheSeqlens, 'cacheSeqlens', 0, b, 'b, the batch size of q');

  checkTensorLike(tileSchedulerMetadata, 'tileSchedulerMetadata');
  checkRank(
    tileSchedulerMetadata,
    'tileSchedulerMetadata',
    2,
    `[numSmParts, ${METADATA_ROW_WIDTH}]`,
  );
  checkDType(tileSchedulerMetadata, 'tileSchedulerMetadata', ['int32']);
  checkDimAtLeast(tileSchedulerMetadata, 'tileSchedulerMetadata', 0, 1, 'numSmParts');
  checkDim(tileSchedulerMetadata, 'tileSchedulerMetadata', 1, METADATA_ROW_WIDTH, 'the row width');
  checkLastDimContiguous(tileSchedulerMetadata, 'tileSchedulerMetadata');

  checkTensorLike(numSplits, 'numSplits');
  checkRank(numSplits, 'numSplits', 1, '[b + 1]');
  checkDType(numSplits, 'numSplits', ['int32']);
  checkDim(numSplits, 'numSplits', 0, b + 1, 'b + 1');

  return {
    b,
    sQ,
    hQ,
    hKv,
    dQk,
    numPages,
    pageSize,
    maxPages,
    numSmParts: tileSchedulerMetadata.shape[0],
  };
}

/** Arguments of flashMlaWithKvcache: values are the first headDimV entries of each key. */
export function validateMlaDecode(
  args: CommonDecodeArgs & { readonly kCache: unknown; readonly headDimV: unknown },
): DecodeShapes {
  const shapes = validateCommon(args, 'kCache', args.kCache);
  const { headDimV } = args;
  if (
    typeof headDimV !== 'number' ||
    !Number.isInteger(headDimV) ||
    headDimV < 1 ||
    headDimV > shapes.dQk
  ) {
    throw new ArgumentError(
      'headDimV',
      `an integer in [1, ${shapes.dQk}] (at most d_qk; DeepSeek's is 512)`,
      describeValue(headDimV),
    );
  }
  return { ...shapes, dV: headDimV };
}

/** Arguments of gqaDecodeWithKvcache: separate K and V caches of one head dim d. */
export function validateGqaDecode(
  args: CommonDecodeArgs & { readonly kCache: unknown; readonly vCache: unknown },
): DecodeShapes {
  const shapes = validateCommon(args, 'kCache', args.kCache);
  const kCache = args.kCache as TensorLike; // checked by validateCommon
  const vCache = args.vCache;
  if (!GQA_HEAD_DIMS.includes(shapes.dQk)) {
    throw new ArgumentError(
      'q.shape[3]',
      `a head dim in {${GQA_HEAD_DIMS.join(', ')}}`,
      `${shapes.dQk}`,
    );
  }
  checkTensorLike(vCache, 'vCache');
  checkRank(vCache, 'vCache', 4, '[numPages, pageSize, h_kv, d]');
  if (vCache.dtype !== kCache.dtype) {
    throw new ArgumentError(
      'vCache',
      `dtype ${kCache.dtype} (the dtype of q)`,
      `dtype ${vCache.dtype}`,
    );
  }
  for (let dim = 0; dim < 4; dim++) {
    checkDim(vCache, 'vCache', dim, kCache.shape[dim], `as kCache.shape[${dim}]`);
  }
  checkLastDimContiguous(vCache, 'vCache');
  return { ...shapes, dV: shapes.dQk };
}

/** The sizes of a writeKv call. */
export interface WriteKvShapes {
  readonly numPages: number;
  readonly pageSize: number;
  readonly numRows: number;
}

/** Arguments of writeKv: rows [n, h_kv, d] into cache [numPages, pageSize, h_kv, d]. */
export function validateWriteKv(
  cache: unknown,
  rows: unknown,
  slotMapping: unknown,
): WriteKvShapes {
  checkTensorLike(cache, 'cache');
  checkRank(cache, 'cache', 4, '[numPages, pageSize, h_kv, d]');
  checkDType(cache, 'cache', ATTENTION_DTYPES);
  checkDimAtLeast(cache, 'cache', 1, 1, 'pageSize');
  checkLastDimContiguous(cache, 'cache');

  checkTensorLike(rows, 'rows');
  checkRank(rows, 'rows', 3, '[n, h_kv, d]');
  if (rows.dtype !== cache.dtype) {
    throw new ArgumentError(
      'rows',
      `dtype ${cache.dtype} (the dtype of cache)`,
      `dtype ${rows.dtype}`,
    );
  }
  checkDim(rows, 'rows', 1, cache.shape[2], 'h_kv, as cache.shape[2]');
  checkDim(rows, 'rows', 2, cache.shape[3], 'd, as cache.shape[3]');
  checkLastDimContiguous(rows, 'rows');

  checkTensorLike(slotMapping, 'slotMapping');
  checkRank(slotMapping, 'slotMapping', 1, '[n]');
  checkDType(slotMapping, 'slotMapping', ['int32']);
  checkDim(slotMapping, 'slotMapping', 0, rows.shape[0], 'n, the number of rows');
  return { numPages: cache.shape[0], pageSize: cache.shape[1], numRows: rows.shape[0] };
}
