/**
 * The whole native boundary: every function of csrc/include/flash_mla.h, declared once through koffi.
 * Opaque native handles (device pointers, streams, events, graphs) are branded bigints, never plain
 * numbers, and none of them appears in the public API.
 */
import { createRequire } from 'node:module';
import type { DType } from '../../dtype.js';
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

type Fn = (...args: unknown[]) => unknown;

/** The loaded library: raw functions plus checked wrappers that throw this package's errors. */
export class NativeLibrary {
  private readonly fn: Record<string, Fn>;

  constructor(
    readonly path: string,
    lib: { func: (proto: string) => Fn },
  ) {
    const protos: Record<string, string> = {
      statusString: 'const char *fmla_status_string(int status)',
      lastError: 'const char *fmla_last_error()',
      version: 'const char *fmla_version()',
      deviceCount: 'int fmla_device_count(_Out_ int *count)',
      deviceProperties: 'int fmla_device_properties(int device, void *props)',
      setDevice: 'int fmla_set_device(int device)',
      getDevice: 'int fmla_get_device(_Out_ int *device)',
      deviceSynchronize: 'int fmla_device_synchronize()',
      malloc: 'int fmla_malloc(_Out_ uint64_t *ptr, size_t bytes)',
      free: 'int fmla_free(uint64_t ptr)',
      memcpyHtoD:
        'int fmla_memcpy_htod(uint64_t dst, const void *src, size_t bytes, uint64_t stream)',
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
      writeKv: 'int fmla_write_kv(void *cache, void *rows, void *slots, uint64_t stream)',
      testingFillNormal:
        'int fmla_testing_fill_normal(void *t, uint64_t seed, float scale, float limit, uint64_t stream)',
      testingSpin: 'int fmla_testing_spin(uint64_t ns, uint64_t stream)',
      referenceAttention:
        'int fmla_reference_attention(void *q, void *k, void *v, int d_v, void *bt, void *seqlens, float scale, int causal, void *rows, void *out, void *lse, uint64_t stream)',
    };
    this.fn = {};
    for (const [name, proto] of Object.entries(protos)) this.fn[name] = lib.func(proto);
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

  call(name: string, ...args: unknown[]): void {
    this.check(this.fn[name](...args), name);
  }

  raw(name: string, ...args: unknown[]): unknown {
    return this.fn[name](...args);
  }

  version(): string {
    return String(this.fn.version());
  }

  /** Every visible device; BackendUnavailableError (saying why) when there is no GPU or driver. */
  listDevices(): NativeDeviceInfo[] {
    const count = [0];
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

  /** Creates a handle through an `_Out_ uint64_t*` function. */
  create<T extends bigint>(name: string, ...args: unknown[]): T {
    const out = [0n];
    this.call(name, out, ...args);
    return BigInt(out[0] as bigint | number) as T;
  }
}

const loaded = new Map<string, NativeLibrary>();

/** Loads (once per path) the native library; throws BackendUnavailableError with the reason. */
export function loadNativeLibrary(path: string): NativeLibrary {
  let lib = loaded.get(path);
  if (lib) return lib;
  let koffi: { load: (p: string) => { func: (proto: string) => Fn } };
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
