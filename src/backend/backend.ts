/**
 * The operations every backend implements. Arguments reach a backend already validated by
 * src/attention/ (shapes, dtypes, ranges), so a backend only computes.
 */
import type { TensorLike } from '../tensor.js';
import type { Fp8CacheFormat } from '../fp8/cache-formats.js';

/** The split-KV schedule (docs/schedule.md). Both tensors are int32. */
export interface MlaMetadata<T extends TensorLike = TensorLike> {
  /** [numSmParts, 8]: beginBatch, beginToken, endBatch, endToken, beginSplit, 0, 0, 0. */
  readonly tileSchedulerMetadata: T;
  /** [b + 1]: prefix sum of the number of splits of each sequence. */
  readonly numSplits: T;
}

export interface DecodeOptions {
  /** Multiplies q.k before the softmax. Default 1 / sqrt(head dim of q). */
  softmaxScale?: number;
  /** Query j of s_q attends keys t <= L - s_q + j. Default false. */
  causal?: boolean;
}

/**
 * flashMlaWithKvcache over an FP8 cache (docs/fp8-kv-cache.md). Scales are float32 tensors of one
 * element, beside q. The CPU backend runs both formats; the GPU kernels are not there yet.
 */
export interface MlaFp8Options<T extends TensorLike = TensorLike> {
  /**
   * kCache is FlashMLA's fp8_ds_mla cache (FlashMLA's `is_fp8_kvcache=True`): float8_e4m3fn
   * [numPages, pageSize, 1, 656], 656-byte tokens that dequantize to d_qk 576; headDimV 512.
   */
  isFp8Kvcache?: boolean;
  /**
   * kCache is fp8_e4m3 (float8_e4m3fn [numPages, pageSize, h_kv, d_qk]): keys and values are
   * e4m3 * descaleK.
   */
  descaleK?: T;
  /** q is float8_e4m3fn (with an fp8_e4m3 cache): queries are e4m3 * descaleQ; out is bfloat16. */
  descaleQ?: T;
}

/** gqaDecodeWithKvcache over fp8_e4m3 caches: K and V float8_e4m3fn, each with its scale. */
export interface GqaFp8Options<T extends TensorLike = TensorLike> {
  /** Keys are e4m3 * descaleK; requires descaleV too. */
  descaleK?: T;
  /** Values are e4m3 * descaleV. */
  descaleV?: T;
  /** q is float8_e4m3fn: queries are e4m3 * descaleQ; out is bfloat16. */
  descaleQ?: T;
}

/** writeKv into an FP8 cache: bf16 / fp16 rows are quantized as docs/fp8-kv-cache.md says. */
export interface WriteKvFp8Options<T extends TensorLike = TensorLike> {
  /** cache is fp8_ds_mla ([numPages, pageSize, 1, 656] float8_e4m3fn), rows [n, 1, 576]. */
  isFp8Kvcache?: boolean;
  /** cache is fp8_e4m3 with this scale: code = e4m3_rne(x / descale), saturating. */
  descale?: T;
}

/** An FP8 decode as src/attention/ resolved and checked it: the cache format and its scales. */
export interface Fp8Decode<T extends TensorLike = TensorLike> {
  readonly cacheFormat: Fp8CacheFormat;
  /** float8_e4m3fn queries' scale; undefined: q is bf16 / fp16. */
  readonly descaleQ?: T;
  /** fp8_e4m3: the key cache's scale (MLA: its one cache, keys and values). */
  readonly descaleK?: T;
  /** fp8_e4m3, GQA: the value cache's scale. */
  readonly descaleV?: T;
}

/** The options a backend's decode receives: defaults filled in, an FP8 format resolved. */
export interface ResolvedDecodeOptions<
  T extends TensorLike = TensorLike,
> extends Required<DecodeOptions> {
  /** undefined: q and the caches hold bf16 / fp16 of one dtype. */
  readonly fp8?: Fp8Decode<T>;
}

/** The FP8 cache formats of each operation on a backend, and whether its decodes take e4m3 queries. */
export interface Fp8Support {
  readonly mlaDecode: readonly Fp8CacheFormat[];
  readonly gqaDecode: readonly Fp8CacheFormat[];
  readonly writeKv: readonly Fp8CacheFormat[];
  /** float8_e4m3fn queries (descaleQ) with fp8_e4m3 caches. */
  readonly e4m3Queries: boolean;
  /** float16 queries over fp8_ds_mla caches (whose rotary values are bfloat16). */
  readonly dsMlaFloat16Queries: boolean;
}

/** A writeKv into an FP8 cache, as src/attention/ resolved it. */
export interface Fp8Write<T extends TensorLike = TensorLike> {
  readonly cacheFormat: Fp8CacheFormat;
  /** fp8_e4m3: the cache's scale. */
  readonly descale?: T;
}

/**
 * Where and how a backend runs an operation. src/attention/ checks every option for every backend;
 * the CPU backend fills `out`, `lse` and `metadata` as the CUDA backend does, and ignores `stream`
 * and `workspace` (it runs synchronously and needs no scratch memory).
 */
export interface ExecutionOptions<T extends TensorLike = TensorLike> {
  /** The CUDA stream to launch on (a CudaStream); default: the legacy default stream. */
  stream?: unknown;
  /** Preallocated outputs of a decode (required inside CUDA graph capture). */
  out?: T;
  lse?: T;
  /** Preallocated schedule tensors for getMlaMetadata to fill (required inside graph capture). */
  metadata?: MlaMetadata<T>;
  /** Preallocated decode workspace (required inside CUDA graph capture). */
  workspace?: T;
  /**
   * Also check the contents of device tensors (lengths within capacity, the block-table entries that
   * will be read in range) by copying them to the host first. Host tensors are always checked.
   * Default false: the copy waits for the device, which a decode loop should not do every step.
   */
  checkContents?: boolean;
}

export interface DecodeResult<T extends TensorLike = TensorLike> {
  /** [b, s_q, h_q, d_v] in the dtype of q (bfloat16 for float8_e4m3fn q). */
  readonly out: T;
  /** [b, h_q, s_q] float32; +Infinity where no key was attended. */
  readonly lse: T;
}

export interface Backend<T extends TensorLike = TensorLike> {
  readonly name: 'cpu' | 'cuda';
  /** The SM count schedules default to (the device's); undefined: DEFAULT_NUM_SMS. */
  defaultNumSms?(): number;
  /** What this backend runs over FP8 caches; absent: nothing (src/attention/ refuses it all). */
  readonly fp8?: Fp8Support;
  /** Throws ArgumentError unless `stream` is one this backend launches on; absent: ignored. */
  checkStream?(stream: unknown, name: string): void;
  getMlaMetadata(
    cacheSeqlens: T,
    numQTokensPerHeadK: number,
    numHeadsK: number,
    numSms: number,
    exec?: ExecutionOptions<T>,
  ): MlaMetadata<T>;
  /** MLA decode: values are the first headDimV entries of each cached row. */
  mlaDecode(
    q: T,
    kvCache: T,
    blockTable: T,
    cacheSeqlens: T,
    headDimV: number,
    metadata: MlaMetadata<T>,
    options: ResolvedDecodeOptions<T>,
    exec?: ExecutionOptions<T>,
  ): DecodeResult<T>;
  /** GQA/MHA/MQA decode with separate K and V caches. */
  gqaDecode(
    q: T,
    kCache: T,
    vCache: T,
    blockTable: T,
    cacheSeqlens: T,
    metadata: MlaMetadata<T>,
    options: ResolvedDecodeOptions<T>,
    exec?: ExecutionOptions<T>,
  ): DecodeResult<T>;
  /**
   * cache[slot / pageSize, slot % pageSize] = rows[i] for each i with slotMapping[i] >= 0, quantized
   * into `fp8`'s format when given.
   */
  writeKv(cache: T, rows: T, slotMapping: T, exec?: ExecutionOptions<T>, fp8?: Fp8Write<T>): void;
}
