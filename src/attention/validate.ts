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
import type { DecodeOptions, Fp8Decode, ResolvedDecodeOptions } from '../backend/backend.js';
import { checkScheduleSizes, METADATA_ROW_WIDTH } from '../schedule/index.js';
import { FP8_CACHE_DTYPE, type Fp8CacheFormat } from '../fp8/cache-formats.js';
import { DS_MLA_HEAD_DIM, DS_MLA_LATENT_DIMS, DS_MLA_TOKEN_BYTES } from '../fp8/ds-mla-token.js';

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

/**
 * An fp8_ds_mla cache [numPages, pageSize, 1, 656]: one latent head, rows of 656 packed bytes,
 * pages that do not overlap (any page stride of at least pageSize * 656: FlashMLA pads its pages).
 */
function checkDsMlaCache(cache: TensorLike, name: string): void {
  checkDim(cache, name, 3, DS_MLA_TOKEN_BYTES, 'the bytes of an fp8_ds_mla token');
  checkDim(cache, name, 2, 1, 'h_kv: an fp8_ds_mla cache holds one latent head');
  const [numPages, pageSize] = cache.shape;
  if (pageSize > 1 && cache.strides[1] !== DS_MLA_TOKEN_BYTES) {
    throw new ArgumentError(
      `${name}.strides[1]`,
      `${DS_MLA_TOKEN_BYTES} (fp8_ds_mla tokens are packed)`,
      `${cache.strides[1]}`,
    );
  }
  if (numPages > 1 && cache.strides[0] < pageSize * DS_MLA_TOKEN_BYTES) {
    throw new ArgumentError(
      `${name}.strides[0]`,
      `at least ${pageSize * DS_MLA_TOKEN_BYTES} (pageSize * ${DS_MLA_TOKEN_BYTES} bytes a page)`,
      `${cache.strides[0]}`,
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

/** The options of a decode call with their defaults filled in, and its FP8 format if it has one. */
export function resolveDecodeOptions<T extends TensorLike>(
  options: DecodeOptions | undefined,
  dQk: number,
  fp8?: Fp8Decode<T>,
): ResolvedDecodeOptions<T> {
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
  return fp8 ? { softmaxScale, causal, fp8 } : { softmaxScale, causal };
}

interface CommonDecodeArgs {
  readonly q: unknown;
  readonly blockTable: unknown;
  readonly cacheSeqlens: unknown;
  readonly tileSchedulerMetadata: unknown;
  readonly numSplits: unknown;
}

/**
 * Checks q, one paged cache (of q's dtype, or in an FP8 `format`: see validate-fp8.ts for the
 * options that name it), the block table, lengths and schedule; returns the sizes.
 */
function validateCommon(
  args: CommonDecodeArgs,
  cacheName: string,
  cache: unknown,
  format: Fp8CacheFormat | undefined,
): Omit<DecodeShapes, 'dV'> {
  const { q, blockTable, cacheSeqlens, tileSchedulerMetadata, numSplits } = args;
  checkTensorLike(q, 'q');
  checkRank(q, 'q', 4, '[b, s_q, h_q, d]');
  checkDType(
    q,
    'q',
    format === 'fp8_e4m3' ? [...ATTENTION_DTYPES, FP8_CACHE_DTYPE] : ATTENTION_DTYPES,
  );
  checkDimAtLeast(q, 'q', 1, 1, 's_q');
  checkDimAtLeast(q, 'q', 2, 1, 'h_q');
  checkDimAtLeast(q, 'q', 3, 1, 'the head dim');
  checkLastDimContiguous(q, 'q');
  const [b, sQ, hQ, dQk] = q.shape;

  checkTensorLike(cache, cacheName);
  checkRank(cache, cacheName, 4, '[numPages, pageSize, h_kv, d]');
  const [cacheDType, why] = format
    ? [FP8_CACHE_DTYPE, `the ${format} format`]
    : [q.dtype, 'the dtype of q'];
  if (cache.dtype !== cacheDType) {
    throw new ArgumentError(cacheName, `dtype ${cacheDType} (${why})`, `dtype ${cache.dtype}`);
  }
  checkDimAtLeast(cache, cacheName, 1, 1, 'pageSize');
  checkDimAtLeast(cache, cacheName, 2, 1, 'h_kv');
  if (format === 'fp8_ds_mla') {
    checkDim(q, 'q', 3, DS_MLA_HEAD_DIM, 'd_qk of the fp8_ds_mla format');
    checkDsMlaCache(cache, cacheName);
  } else {
    checkDim(cache, cacheName, 3, dQk, 'the head dim of q');
  }
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
  format?: Fp8CacheFormat,
): DecodeShapes {
  const shapes = validateCommon(args, 'kCache', args.kCache, format);
  const { headDimV } = args;
  if (format === 'fp8_ds_mla' && headDimV !== DS_MLA_LATENT_DIMS) {
    throw new ArgumentError(
      'headDimV',
      `${DS_MLA_LATENT_DIMS} (the e4m3 latent of an fp8_ds_mla token)`,
      describeValue(headDimV),
    );
  }
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
  format?: 'fp8_e4m3',
): DecodeShapes {
  const shapes = validateCommon(args, 'kCache', args.kCache, format);
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
      `dtype ${kCache.dtype} (the dtype of kCache)`,
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

/**
 * Arguments of writeKv: rows [n, h_kv, d] into cache [numPages, pageSize, h_kv, d] of their dtype,
 * or bf16 / fp16 rows quantized into an FP8 `format` (fp8_ds_mla: rows of 576, tokens of 656).
 */
export function validateWriteKv(
  cache: unknown,
  rows: unknown,
  slotMapping: unknown,
  format?: Fp8CacheFormat,
): WriteKvShapes {
  checkTensorLike(cache, 'cache');
  checkRank(cache, 'cache', 4, '[numPages, pageSize, h_kv, d]');
  checkDType(cache, 'cache', format ? [FP8_CACHE_DTYPE] : ATTENTION_DTYPES);
  checkDimAtLeast(cache, 'cache', 1, 1, 'pageSize');
  checkLastDimContiguous(cache, 'cache');
  if (format === 'fp8_ds_mla') checkDsMlaCache(cache, 'cache');

  checkTensorLike(rows, 'rows');
  checkRank(rows, 'rows', 3, '[n, h_kv, d]');
  const rowDTypes = format ? ATTENTION_DTYPES : [cache.dtype];
  if (!rowDTypes.includes(rows.dtype)) {
    const why = format ? `quantized into the ${format} cache` : 'the dtype of cache';
    throw new ArgumentError(
      'rows',
      `dtype ${rowDTypes.join(' or ')} (${why})`,
      `dtype ${rows.dtype}`,
    );
  }
  checkDim(rows, 'rows', 1, cache.shape[2], 'h_kv, as cache.shape[2]');
  if (format === 'fp8_ds_mla') {
    checkDim(rows, 'rows', 2, DS_MLA_HEAD_DIM, 'the values of an fp8_ds_mla token');
  } else {
    checkDim(rows, 'rows', 2, cache.shape[3], 'd, as cache.shape[3]');
  }
  checkLastDimContiguous(rows, 'rows');

  checkTensorLike(slotMapping, 'slotMapping');
  checkRank(slotMapping, 'slotMapping', 1, '[n]');
  checkDType(slotMapping, 'slotMapping', ['int32']);
  checkDim(slotMapping, 'slotMapping', 0, rows.shape[0], 'n, the number of rows');
  return { numPages: cache.shape[0], pageSize: cache.shape[1], numRows: rows.shape[0] };
}
