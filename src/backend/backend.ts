/**
 * The operations every backend implements. Arguments reach a backend already validated by
 * src/attention/ (shapes, dtypes, ranges), so a backend only computes.
 */
import type { TensorLike } from '../tensor.js';

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
  /** [b, s_q, h_q, d_v] in the dtype of q. */
  readonly out: T;
  /** [b, h_q, s_q] float32; +Infinity where no key was attended. */
  readonly lse: T;
}

export interface Backend<T extends TensorLike = TensorLike> {
  readonly name: 'cpu' | 'cuda';
  /** The SM count schedules default to (the device's); undefined: DEFAULT_NUM_SMS. */
  defaultNumSms?(): number;
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
    options: Required<DecodeOptions>,
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
    options: Required<DecodeOptions>,
    exec?: ExecutionOptions<T>,
  ): DecodeResult<T>;
  /** cache[slot / pageSize, slot % pageSize] = rows[i] for each i with slotMapping[i] >= 0. */
  writeKv(cache: T, rows: T, slotMapping: T, exec?: ExecutionOptions<T>): void;
}
