/**
 * The whole native boundary: every function of csrc/include/flash_mla.h, declared once through koffi.
 * Opaque native handles (device pointers, streams, events, graphs) are branded bigints, never plain
 * numbers, and none of them appears in the public API.
 */
import { createRequire } from 'node:module';
import type { DType } from '../../dtype.js';
import type { Fp8CacheFormat } from '../../fp8/cache-formats.js';
import { ArgumentError, BackendUnavailableError, NativeError } from '../../errors.js';

export type DevicePtr = bigint & { readonly __brand: 'DevicePtr' };
export type StreamHandle = bigint & { readonly __brand: 'StreamHandle' };
export type EventHandle = bigint & { readonly __brand: 'EventHandle' };
export type GraphExecHandle = bigint & { readonly __brand: 'GraphExecHandle' };

export const NULL_STREAM = 0n as StreamHandle;

export const enum Status {
  Ok = 0,
  InvalidArgument = 1,
  NoDevice = 2,
  Cuda = 3,
  OutOfMemory = 4,
  Unsupported = 5,
}

export const NATIVE_DTYPE: Record<DType, number> = {
  float32: 0,
  bfloat16: 1,
  float16: 2,
  float8_e4m3fn: 3,
  int32: 4,
};

/** fmla_kv_format: the FP8 cache formats of fmla_write_kv_fp8. */
export const NATIVE_KV_FORMAT: Record<Fp8CacheFormat, number> = {
  fp8_ds_mla: 1,
  fp8_e4m3: 2,
};

/** sizeof(fmla_tensor): void* data; int32 dtype, ndim; int64 shape[6], strides[6]. */
export const TENSOR_DESCRIPTOR_BYTES = 112;
export const MAX_DIMS = 6;
/** sizeof(fmla_device_props). */
const DEVICE_PROPS_BYTES = 296;

/** Writes an fmla_tensor into a fresh buffer that native calls can read by pointer. */
export function encodeTensorDescriptor(
  data: DevicePtr,
  dtype: DType,
  shape: readonly number[],
  strides: readonly number[],
): Buffer {
  const buf = Buffer.alloc(TENSOR_DESCRIPTOR_BYTES);
  buf.writeBigUInt64LE(data, 0);
  buf.writeInt32LE(NATIVE_DTYPE[dtype], 8);
  buf.writeInt32LE(shape.length, 12);
  for (let i = 0; i < shape.length; i++) {
    buf.writeBigInt64LE(BigInt(shape[i]), 16 + 8 * i);
    buf.writeBigInt64LE(BigInt(strides[i]), 64 + 8 * i);
  }
  return buf;
}

export interface NativeDeviceInfo {
  readonly index: number;
  readonly name: string;
  readonly smCount: number;
  readonly computeCapability: string;
  readonly totalMemoryBytes: number;
  readonly l2CacheBytes: number;
}

/** An `fmla_tensor *` argument: a descriptor from encodeTensorDescriptor, or null where optional. */
type TensorArg = Buffer | null;
/** An `_Out_` scalar: koffi writes element 0. */
type Out<T> = [T];

/** The arguments every decode function ends with. */
export type DecodeOutputs = [
  out: TensorArg,
  lse: TensorArg,
  workspace: DevicePtr,
  workspaceBytes: number,
  stream: StreamHandle,
];

/** The arguments the 16-bit decode functions end with. */
export type DecodeTail = [
  tileSchedulerMetadata: TensorArg,
  numSplits: TensorArg,
  softmaxScale: number,
  causal: number,
  ...outputs: DecodeOutputs,
];

/**
 * Every function of flash_mla.h and flash_mla_testing.h with its TypeScript signature. The C
 * prototypes koffi binds are in PROTOTYPES below, one per entry, under the same name.
 */
export interface NativeFunctions {
  statusString(status: number): string;
  lastError(): string;
  version(): string;
  deviceCount(count: Out<number>): number;
  deviceProperties(device: number, props: Buffer): number;
  setDevice(device: number): number;
  getDevice(device: Out<number>): number;
  deviceSynchronize(): number;
  memoryInfo(freeBytes: Out<number | bigint>, totalBytes: Out<number | bigint>): number;
  malloc(ptr: Out<bigint | number>, bytes: number): number;
  free(ptr: DevicePtr): number;
  memcpyHtoD(dst: DevicePtr, src: ArrayBufferView, bytes: number, stream: StreamHandle): number;
  memcpyDtoH(dst: ArrayBufferView, src: DevicePtr, bytes: number, stream: StreamHandle): number;
  memcpyDtoD(dst: DevicePtr, src: DevicePtr, bytes: number, stream: StreamHandle): number;
  memset(ptr: DevicePtr, value: number, bytes: number, stream: StreamHandle): number;
  streamCreate(stream: Out<bigint | number>): number;
  streamDestroy(stream: StreamHandle): number;
  streamSynchronize(stream: StreamHandle): number;
  eventCreate(event: Out<bigint | number>): number;
  eventDestroy(event: EventHandle): number;
  eventRecord(event: EventHandle, stream: StreamHandle): number;
  eventSynchronize(event: EventHandle): number;
  eventElapsedMs(ms: Out<number>, start: EventHandle, end: EventHandle): number;
  graphBeginCapture(stream: StreamHandle): number;
  graphEndCapture(stream: StreamHandle, exec: Out<bigint | number>): number;
  graphLaunch(exec: GraphExecHandle, stream: StreamHandle): number;
  graphDestroy(exec: GraphExecHandle): number;
  /** Not a status: the number of schedule parts. */
  numSmParts(numSms: number, qTokensPerHeadK: number, headsK: number): number;
  getMlaMetadata(
    seqlens: TensorArg,
    qTokensPerHeadK: number,
    headsK: number,
    tileSchedulerMetadata: TensorArg,
    numSplits: TensorArg,
    stream: StreamHandle,
  ): number;
  /** Not a status: bytes (koffi returns a bigint past 2^53). */
  workspaceBytes(b: number, sQ: number, hQ: number, dV: number, parts: number): number | bigint;
  mlaDecode(
    q: TensorArg,
    kvCache: TensorArg,
    blockTable: TensorArg,
    seqlens: TensorArg,
    headDimV: number,
    ...schedulingAndOutputs: DecodeTail
  ): number;
  gqaDecode(
    q: TensorArg,
    kCache: TensorArg,
    vCache: TensorArg,
    blockTable: TensorArg,
    seqlens: TensorArg,
    ...schedulingAndOutputs: DecodeTail
  ): number;
  mlaDecodeFp8(
    q: TensorArg,
    kvCache: TensorArg,
    blockTable: TensorArg,
    seqlens: TensorArg,
    headDimV: number,
    tileSchedulerMetadata: TensorArg,
    numSplits: TensorArg,
    softmaxScale: number,
    causal: number,
    format: number,
    descaleQ: TensorArg,
    descaleK: TensorArg,
    ...outputs: DecodeOutputs
  ): number;
  gqaDecodeE4m3(
    q: TensorArg,
    kCache: TensorArg,
    vCache: TensorArg,
    blockTable: TensorArg,
    seqlens: TensorArg,
    tileSchedulerMetadata: TensorArg,
    numSplits: TensorArg,
    softmaxScale: number,
    causal: number,
    descaleQ: TensorArg,
    descaleK: TensorArg,
    descaleV: TensorArg,
    ...outputs: DecodeOutputs
  ): number;
  writeKv(cache: TensorArg, rows: TensorArg, slots: TensorArg, stream: StreamHandle): number;
  writeKvFp8(
    cache: TensorArg,
    rows: TensorArg,
    slots: TensorArg,
    format: number,
    descale: TensorArg,
    stream: StreamHandle,
  ): number;
  testingFillNormal(
    t: TensorArg,
    seed: bigint,
    scale: number,
    limit: number,
    stream: StreamHandle,
  ): number;
  testingSpin(nanoseconds: bigint, stream: StreamHandle): number;
  referenceAttention(
    q: TensorArg,
    kCache: TensorArg,
    vCache: TensorArg,
    headDimV: number,
    blockTable: TensorArg,
    seqlens: TensorArg,
    softmaxScale: number,
    causal: number,
    rows: TensorArg,
    out: TensorArg,
    lse: TensorArg,
    stream: StreamHandle,
  ): number;
}

const PROTOTYPES: { readonly [K in keyof NativeFunctions]: string } = {
  statusString: 'const char *fmla_status_string(int status)',
  lastError: 'const char *fmla_last_error()',
  version: 'const char *fmla_version()',
  deviceCount: 'int fmla_device_count(_Out_ int *count)',
  deviceProperties: 'int fmla_device_properties(int device, void *props)',
  setDevice: 'int fmla_set_device(int device)',
  getDevice: 'int fmla_get_device(_Out_ int *device)',
  deviceSynchronize: 'int fmla_device_synchronize()',
  memoryInfo: 'int fmla_memory_info(_Out_ size_t *free_bytes, _Out_ size_t *total_bytes)',
  malloc: 'int fmla_malloc(_Out_ uint64_t *ptr, size_t bytes)',
  free: 'int fmla_free(uint64_t ptr)',
  memcpyHtoD: 'int fmla_memcpy_htod(uint64_t dst, const void *src, size_t bytes, uint64_t stream)',
  memcpyDtoH: 'int fmla_memcpy_dtoh(void *dst, uint64_t src, size_t bytes, uint64_t stream)',
  memcpyDtoD: 'int fmla_memcpy_dtod(uint64_t dst, uint64_t src, size_t bytes, uint64_t stream)',
  memset: 'int fmla_memset_async(uint64_t ptr, int value, size_t bytes, uint64_t stream)',
  streamCreate: 'int fmla_stream_create(_Out_ uint64_t *stream)',
  streamDestroy: 'int fmla_stream_destroy(uint64_t stream)',
  streamSynchronize: 'int fmla_stream_synchronize(uint64_t stream)',
  eventCreate: 'int fmla_event_create(_Out_ uint64_t *event)',
  eventDestroy: 'int fmla_event_destroy(uint64_t event)',
  eventRecord: 'int fmla_event_record(uint64_t event, uint64_t stream)',
  eventSynchronize: 'int fmla_event_synchronize(uint64_t event)',
  eventElapsedMs: 'int fmla_event_elapsed_ms(_Out_ float *ms, uint64_t start, uint64_t end)',
  graphBeginCapture: 'int fmla_graph_begin_capture(uint64_t stream)',
  graphEndCapture: 'int fmla_graph_end_capture(uint64_t stream, _Out_ uint64_t *exec)',
  graphLaunch: 'int fmla_graph_launch(uint64_t exec, uint64_t stream)',
  graphDestroy: 'int fmla_graph_destroy(uint64_t exec)',
  numSmParts: 'int fmla_mla_num_sm_parts(int num_sms, int q_tokens, int heads_k)',
  getMlaMetadata:
    'int fmla_get_mla_metadata(void *seqlens, int q_tokens, int heads_k, void *tsm, void *splits, uint64_t stream)',
  workspaceBytes:
    'size_t fmla_decode_workspace_bytes(int64_t b, int64_t s_q, int64_t h_q, int64_t d_v, int64_t parts)',
  mlaDecode:
    'int fmla_mla_decode(void *q, void *kv, void *bt, void *seqlens, int d_v, void *tsm, void *splits, float scale, int causal, void *out, void *lse, uint64_t ws, size_t ws_bytes, uint64_t stream)',
  gqaDecode:
    'int fmla_gqa_decode(void *q, void *k, void *v, void *bt, void *seqlens, void *tsm, void *splits, float scale, int causal, void *out, void *lse, uint64_t ws, size_t ws_bytes, uint64_t stream)',
  mlaDecodeFp8:
    'int fmla_mla_decode_fp8(void *q, void *kv, void *bt, void *seqlens, int d_v, void *tsm, void *splits, float scale, int causal, int32_t format, void *descale_q, void *descale_k, void *out, void *lse, uint64_t ws, size_t ws_bytes, uint64_t stream)',
  gqaDecodeE4m3:
    'int fmla_gqa_decode_e4m3(void *q, void *k, void *v, void *bt, void *seqlens, void *tsm, void *splits, float scale, int causal, void *descale_q, void *descale_k, void *descale_v, void *out, void *lse, uint64_t ws, size_t ws_bytes, uint64_t stream)',
  writeKv: 'int fmla_write_kv(void *cache, void *rows, void *slots, uint64_t stream)',
  writeKvFp8:
    'int fmla_write_kv_fp8(void *cache, void *rows, void *slots, int32_t format, void *descale, uint64_t stream)',
  testingFillNormal:
    'int fmla_testing_fill_normal(void *t, uint64_t seed, float scale, float limit, uint64_t stream)',
  testingSpin: 'int fmla_testing_spin(uint64_t ns, uint64_t stream)',
  referenceAttention:
    'int fmla_reference_attention(void *q, void *k, void *v, int d_v, void *bt, void *seqlens, float scale, int causal, void *rows, void *out, void *lse, uint64_t stream)',
};

/** The functions that return an fmla_status. */
export type StatusFunction = Exclude<
  keyof NativeFunctions,
  'statusString' | 'lastError' | 'version' | 'numSmParts' | 'workspaceBytes'
>;
type HandleOut = Out<bigint | number>;
/** The functions whose only argument receives a new handle. */
type CreatingFunction = 'streamCreate' | 'eventCreate';

/** The loaded library: its typed functions, and checked calls that throw this package's errors. */
export class NativeLibrary {
  /** The raw functions: each returns its status (or value) and throws nothing. */
  readonly fn: NativeFunctions;

  constructor(
    readonly path: string,
    lib: { func: (proto: string) => unknown },
  ) {
    const fn: Record<string, unknown> = {};
    for (const [name, proto] of Object.entries(PROTOTYPES)) fn[name] = lib.func(proto);
    this.fn = fn as unknown as NativeFunctions;
  }

  /** Throws the error class matching a non-OK status, with the library's message. */
  check(status: unknown, what: string): void {
    if (status === Status.Ok) return;
    const code = Number(status);
    const detail = String(this.fn.lastError()) || String(this.fn.statusString(code));
    switch (code) {
      case Status.InvalidArgument: {
        const m = /^([^:]+): expected (.*), got (.*)$/.exec(detail);
        throw m
          ? new ArgumentError(m[1], m[2], m[3])
          : new ArgumentError(what, 'valid arguments', detail);
      }
      case Status.NoDevice:
        throw new BackendUnavailableError('cuda', detail);
      default:
        throw new NativeError(code, `${what}: ${String(this.fn.statusString(code))}: ${detail}`);
    }
  }

  /** Calls a status-returning function; a non-OK status becomes this package's error. */
  call<K extends StatusFunction>(name: K, ...args: Parameters<NativeFunctions[K]>): void {
    const f = this.fn[name] as (...a: Parameters<NativeFunctions[K]>) => number;
    this.check(f(...args), name);
  }

  version(): string {
    return String(this.fn.version());
  }

  /** Free and total bytes of the current device. */
  memoryInfo(): { freeBytes: number; totalBytes: number } {
    const free: [number | bigint] = [0];
    const total: [number | bigint] = [0];
    this.call('memoryInfo', free, total);
    return { freeBytes: Number(free[0]), totalBytes: Number(total[0]) };
  }

  /** Every visible device; BackendUnavailableError (saying why) when there is no GPU or driver. */
  listDevices(): NativeDeviceInfo[] {
    const count: [number] = [0];
    this.call('deviceCount', count);
    const devices: NativeDeviceInfo[] = [];
    for (let i = 0; i < count[0]; i++) devices.push(this.deviceInfo(i));
    return devices;
  }

  deviceInfo(index: number): NativeDeviceInfo {
    const buf = Buffer.alloc(DEVICE_PROPS_BYTES);
    this.call('deviceProperties', index, buf);
    const nameEnd = buf.indexOf(0);
    return {
      index,
      name: buf.toString('utf8', 0, nameEnd < 0 ? 256 : Math.min(nameEnd, 256)),
      smCount: buf.readInt32LE(256),
      computeCapability: `${buf.readInt32LE(260)}${buf.readInt32LE(264)}`,
      totalMemoryBytes: Number(buf.readBigUInt64LE(272)),
      l2CacheBytes: Number(buf.readBigUInt64LE(280)),
    };
  }

  /** Creates a stream or event handle (an `_Out_ uint64_t *` function). */
  create<T extends bigint>(name: CreatingFunction): T {
    const out: HandleOut = [0n];
    this.check(this.fn[name](out), name);
    return BigInt(out[0]) as T;
  }
}

const loaded = new Map<string, NativeLibrary>();

/** Loads (once per path) the native library; throws BackendUnavailableError with the reason. */
export function loadNativeLibrary(path: string): NativeLibrary {
  let lib = loaded.get(path);
  if (lib) return lib;
  let koffi: { load: (p: string) => { func: (proto: string) => unknown } };
  try {
    koffi = createRequire(import.meta.url)('koffi') as typeof koffi;
  } catch (error) {
    throw new BackendUnavailableError(
      'cuda',
      `the FFI package koffi cannot load: ${String(error)}`,
    );
  }
  try {
    lib = new NativeLibrary(path, koffi.load(path));
  } catch (error) {
    throw new BackendUnavailableError('cuda', `cannot load ${path}: ${(error as Error).message}`);
  }
  loaded.set(path, lib);
  return lib;
}
