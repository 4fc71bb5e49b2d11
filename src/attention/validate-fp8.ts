/**
 * The FP8 options of the decode calls and writeKv (docs/fp8-kv-cache.md): `isFp8Kvcache`
 * (FlashMLA's `is_fp8_kvcache`, the fp8_ds_mla format), the per-tensor scales `descaleQ`,
 * `descaleK`, `descaleV` (vLLM's, the fp8_e4m3 format) and writeKv's `descale`. Each is checked for
 * its type, then against the dtypes of q and the cache, so that a wrong combination is an
 * ArgumentError naming the option before any work; validate.ts then checks the shapes the format
 * implies.
 */
import type { Backend, Fp8Decode, Fp8Support, Fp8Write } from '../backend/backend.js';
import { checkTensorLike } from '../check-tensor.js';
import { describeValue } from '../describe-value.js';
import type { DType } from '../dtype.js';
import { ArgumentError } from '../errors.js';
import { FP8_CACHE_DTYPE, type Fp8CacheFormat } from '../fp8/cache-formats.js';
import { numelOf, type Tensor, type TensorLike } from '../tensor.js';
import { shouldCheckContents } from './host-contents.js';
import { checkOptionsObject } from './validate-execution.js';

type Options = Readonly<Record<string, unknown>>;

/** A boolean option, false when absent. */
function flagOption(options: Options, key: string): boolean {
  const value = options[key];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') {
    throw new ArgumentError(`options.${key}`, 'a boolean', describeValue(value));
  }
  return value;
}

/** A scale option: undefined, or a float32 tensor of one element. */
function scaleOption(options: Options, key: string): TensorLike | undefined {
  const value = options[key];
  if (value === undefined) return undefined;
  const name = `options.${key}`;
  checkTensorLike(value, name);
  if (value.dtype !== 'float32' || numelOf(value.shape) !== 1) {
    throw new ArgumentError(
      name,
      'a float32 tensor of one element',
      `dtype ${value.dtype}, shape [${value.shape.join(', ')}]`,
    );
  }
  return value;
}

/** An option this call does not take, with the reason. */
function refuseOption(options: Options, key: string, why: string): void {
  const value = options[key];
  if (value !== undefined && value !== false) {
    throw new ArgumentError(`options.${key}`, `undefined (${why})`, describeValue(value));
  }
}

/** The option named in messages about a call's format: isFp8Kvcache, or the e4m3 scale option. */
function formatOption(format: Fp8CacheFormat, e4m3Option: string): string {
  return format === 'fp8_ds_mla' ? 'options.isFp8Kvcache' : e4m3Option;
}

/**
 * A float8_e4m3fn cache exactly when an option names an FP8 `format` (isFp8Kvcache, or the scale
 * option `e4m3Option`); `hint` lists the options that name one, for the message.
 */
function checkCacheFormat(
  cache: TensorLike,
  name: string,
  format: Fp8CacheFormat | undefined,
  e4m3Option: string,
  hint: string,
): void {
  const fp8 = cache.dtype === FP8_CACHE_DTYPE;
  if (format && !fp8) {
    const option = formatOption(format, e4m3Option);
    throw new ArgumentError(
      name,
      `dtype ${FP8_CACHE_DTYPE} (${option} names the ${format} format)`,
      `dtype ${cache.dtype}`,
    );
  }
  if (!format && fp8) {
    throw new ArgumentError(
      name,
      `dtype bfloat16 or float16, or float8_e4m3fn with ${hint}`,
      `dtype ${cache.dtype}`,
    );
  }
}

/** float8_e4m3fn queries exactly with descaleQ, and only over an fp8_e4m3 cache. */
function checkQueryScale(
  q: TensorLike,
  descaleQ: TensorLike | undefined,
  format: Fp8CacheFormat | undefined,
): void {
  const e4m3 = q.dtype === FP8_CACHE_DTYPE;
  if (e4m3 && !descaleQ) {
    throw new ArgumentError(
      'options.descaleQ',
      'a float32 tensor of one element (q is float8_e4m3fn)',
      'undefined',
    );
  }
  if (!e4m3 && descaleQ) {
    throw new ArgumentError(
      'options.descaleQ',
      `undefined (q is ${q.dtype}; descaleQ scales float8_e4m3fn queries)`,
      describeValue(descaleQ),
    );
  }
  if (e4m3 && format !== 'fp8_e4m3') {
    const why = format
      ? `the ${format} format takes 16-bit queries`
      : 'float8_e4m3fn queries need an fp8_e4m3 cache: options.descaleK';
    throw new ArgumentError('q', `dtype bfloat16 or float16 (${why})`, `dtype ${q.dtype}`);
  }
}

/**
 * The format that `isFp8Kvcache` (fp8_ds_mla) or the scale option `scaleKey` (fp8_e4m3) names, not
 * both, checked against the cache's dtype; `why` says why fp8_ds_mla takes no scale.
 */
function dsMlaOrE4m3(
  opts: Options,
  cache: TensorLike,
  cacheName: string,
  scaleKey: string,
  why: string,
): { format: Fp8CacheFormat | undefined; scale: TensorLike | undefined } {
  const isFp8Kvcache = flagOption(opts, 'isFp8Kvcache');
  const scale = scaleOption(opts, scaleKey);
  const option = `options.${scaleKey}`;
  if (isFp8Kvcache && scale) {
    throw new ArgumentError(
      option,
      `undefined with options.isFp8Kvcache (${why})`,
      describeValue(scale),
    );
  }
  const format = isFp8Kvcache ? 'fp8_ds_mla' : scale ? 'fp8_e4m3' : undefined;
  const hint = `options.isFp8Kvcache (fp8_ds_mla) or ${option} (fp8_e4m3)`;
  checkCacheFormat(cache, cacheName, format, option, hint);
  return { format, scale };
}

/** flashMlaWithKvcache's FP8 options: fp8_ds_mla (isFp8Kvcache), fp8_e4m3 (descaleK) or none. */
export function resolveMlaFp8(
  options: unknown,
  q: unknown,
  kCache: unknown,
): Fp8Decode | undefined {
  const opts = checkOptionsObject(options as Options | undefined, 'options');
  checkTensorLike(q, 'q');
  checkTensorLike(kCache, 'kCache');
  refuseOption(opts, 'descaleV', "MLA's values are its keys: descaleK scales both");
  const why = 'fp8_ds_mla keeps its scales in the cache';
  const { format, scale: descaleK } = dsMlaOrE4m3(opts, kCache, 'kCache', 'descaleK', why);
  const descaleQ = scaleOption(opts, 'descaleQ');
  checkQueryScale(q, descaleQ, format);
  return format && { cacheFormat: format, descaleQ, descaleK };
}

/** gqaDecodeWithKvcache's FP8 options: fp8_e4m3 K and V caches (descaleK with descaleV) or none. */
export function resolveGqaFp8(
  options: unknown,
  q: unknown,
  kCache: unknown,
): (Fp8Decode & { cacheFormat: 'fp8_e4m3' }) | undefined {
  const opts = checkOptionsObject(options as Options | undefined, 'options');
  checkTensorLike(q, 'q');
  checkTensorLike(kCache, 'kCache');
  const why = 'fp8_ds_mla is an MLA format; GQA caches take descaleK and descaleV';
  refuseOption(opts, 'isFp8Kvcache', why);
  const descaleQ = scaleOption(opts, 'descaleQ');
  const descaleK = scaleOption(opts, 'descaleK');
  const descaleV = scaleOption(opts, 'descaleV');
  if (!descaleK !== !descaleV) {
    throw new ArgumentError(
      `options.${descaleK ? 'descaleV' : 'descaleK'}`,
      'a float32 tensor of one element (fp8_e4m3 K and V caches take descaleK and descaleV)',
      'undefined',
    );
  }
  const format = descaleK ? 'fp8_e4m3' : undefined;
  const hint = 'options.descaleK and options.descaleV (fp8_e4m3)';
  checkCacheFormat(kCache, 'kCache', format, 'options.descaleK', hint);
  checkQueryScale(q, descaleQ, format);
  return format && { cacheFormat: format, descaleQ, descaleK, descaleV };
}

/** writeKv's FP8 options: fp8_ds_mla (isFp8Kvcache), fp8_e4m3 (descale) or none. */
export function resolveWriteKvFp8(options: unknown, cache: unknown): Fp8Write | undefined {
  const opts = checkOptionsObject(options as Options | undefined, 'options');
  checkTensorLike(cache, 'cache');
  const why = 'fp8_ds_mla computes a scale per token';
  const { format, scale: descale } = dsMlaOrE4m3(opts, cache, 'cache', 'descale', why);
  return format && { cacheFormat: format, descale };
}

/** The scale tensors of a resolved FP8 call by option name, to place and check like any tensor. */
export function scaleTensors(fp8: Fp8Decode | Fp8Write | undefined): Record<string, TensorLike> {
  const scales: Record<string, TensorLike> = {};
  for (const [key, t] of Object.entries(fp8 ?? {})) {
    if (key !== 'cacheFormat' && t !== undefined) scales[`options.${key}`] = t as TensorLike;
  }
  return scales;
}

/** The operations of Fp8Support (the rest of its fields are query capabilities). */
type Fp8Operation = keyof Omit<Fp8Support, 'e4m3Queries' | 'dsMlaFloat16Queries'>;

/** Words for an operation in the messages. */
const OPERATION_WORDS: Record<Fp8Operation, string> = {
  mlaDecode: 'an MLA decode',
  gqaDecode: 'a GQA decode',
  writeKv: 'a writeKv',
};

/**
 * An FP8 format runs only on a backend that lists it for the operation (Backend.fp8), and e4m3
 * queries (or float16 queries over fp8_ds_mla) only where the backend takes them: elsewhere the call
 * is refused here, before the backend sees it.
 */
export function checkFp8Backend(
  fp8: Fp8Decode | Fp8Write | undefined,
  backend: Backend,
  e4m3Option: string,
  operation: Fp8Operation,
  queryDtype?: DType,
): void {
  if (!fp8) return;
  const words = OPERATION_WORDS[operation];
  if (!backend.fp8?.[operation].includes(fp8.cacheFormat)) {
    throw new ArgumentError(
      formatOption(fp8.cacheFormat, e4m3Option),
      `host tensors: ${words} in the ${fp8.cacheFormat} format runs on the cpu backend only ` +
        '(no GPU kernel yet)',
      `tensors for the ${backend.name} backend`,
    );
  }
  if ('descaleQ' in fp8 && fp8.descaleQ !== undefined && !backend.fp8.e4m3Queries) {
    throw new ArgumentError(
      'options.descaleQ',
      `host tensors: ${words} with float8_e4m3fn queries runs on the cpu backend only (no GPU ` +
        'kernel yet; bfloat16 / float16 queries run on the GPU)',
      `tensors for the ${backend.name} backend`,
    );
  }
  if (
    fp8.cacheFormat === 'fp8_ds_mla' &&
    queryDtype === 'float16' &&
    !backend.fp8.dsMlaFloat16Queries
  ) {
    throw new ArgumentError(
      'q',
      `host tensors: ${words} in the fp8_ds_mla format with float16 queries runs on the cpu backend ` +
        'only (its rotary values are bfloat16; bfloat16 queries run on the GPU)',
      `float16 tensors for the ${backend.name} backend`,
    );
  }
}

/** Every scale is finite and > 0: host scales always, device ones with checkContents (a copy). */
export function checkScaleValues(
  scales: Readonly<Record<string, TensorLike>>,
  checkContents: boolean | undefined,
): void {
  for (const [name, t] of Object.entries(scales)) {
    if (!shouldCheckContents(t, checkContents)) continue;
    const value = (t.location === 'host' ? (t as Tensor) : t.toHost()).data[0];
    if (!(value > 0 && value < Infinity)) {
      throw new ArgumentError(name, 'a scale that is finite and > 0', describeValue(value));
    }
  }
}
