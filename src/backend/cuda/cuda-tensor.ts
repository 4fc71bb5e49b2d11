/**
 * Tensors in device memory. A CudaTensor owns its allocation: `dispose()` (or `using`) frees it at
 * once; a FinalizationRegistry frees what was forgotten, as a safety net only.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { allocHostArray, dtypeBytes, type DType } from '../../dtype.js';
import { checkIntegerIn } from '../../check-integer.js';
import { checkNotDisposed } from '../../check-tensor.js';
import { describeValue } from '../../describe-value.js';
import { ArgumentError, OutOfDeviceMemoryError } from '../../errors.js';
import {
  checkShape,
  contiguousStrides,
  isContiguous,
  numelOf,
  Tensor,
  type TensorLike,
} from '../../tensor.js';
import { checkPageCopies, type PageCopy } from '../../kvcache/page-copies.js';
import { encodeTensorDescriptor, MAX_DIMS, Status, type DevicePtr } from './native-api.js';
import { CudaStream, nativeLibrary, streamHandle } from './runtime.js';

/** Sizes stay exact in a float64 byte count (8 bytes an element at most). */
const MAX_DEVICE_ELEMENTS = Math.floor(Number.MAX_SAFE_INTEGER / 8);

interface Allocation {
  ptr: DevicePtr;
  bytes: number;
  freed: boolean;
}

const leaked = new FinalizationRegistry<Allocation>((allocation) => {
  if (allocation.freed) return;
  release(allocation);
  try {
    nativeLibrary().fn.free(allocation.ptr);
  } catch {
    // Process teardown: nothing left to do.
  }
});

/**
 * Every allocation not yet freed, with a weak reference to its tensor. Device memory does not make
 * the JavaScript heap grow, so nothing triggers a collection when only device memory is short: a
 * failed allocation forces one, and frees at once those whose tensor it found unreachable.
 */
const live = new Map<Allocation, WeakRef<CudaTensor>>();

function release(allocation: Allocation): void {
  allocation.freed = true;
  live.delete(allocation);
  leaked.unregister(allocation);
}

/** Allocations made by allocate() and not yet given to a tensor. */
const issued = new WeakSet<Allocation>();

let collectGarbage: (() => void) | null | undefined;

/** A full collection, where the runtime lets one be asked for; false where it does not. */
function forceCollection(): boolean {
  if (collectGarbage === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    try {
      if (typeof exposed === 'function') collectGarbage = exposed;
      else {
        v8.setFlagsFromString('--expose-gc');
        collectGarbage = vm.runInNewContext('gc') as () => void;
      }
    } catch {
      collectGarbage = null;
    }
  }
  collectGarbage?.();
  return collectGarbage !== null;
}

/**
 * Frees the allocations of tensors that were dropped without dispose(). Tensors dropped in the
 * current synchronous run of code stay reachable to the collector until it returns to the event loop.
 */
function freeForgotten(): number {
  if (!forceCollection()) return 0;
  let bytes = 0;
  const lib = nativeLibrary();
  for (const [allocation, tensor] of live) {
    if (tensor.deref() !== undefined) continue;
    release(allocation);
    if (lib.fn.free(allocation.ptr) === Status.Ok) bytes += allocation.bytes;
  }
  return bytes;
}

/** Bytes held by tensors not yet disposed (reachable or not). */
function heldBytes(): number {
  let bytes = 0;
  for (const allocation of live.keys()) bytes += allocation.bytes;
  return bytes;
}

/** cudaMalloc, retried once after freeing forgotten tensors; OutOfDeviceMemoryError says why not. */
function allocate(bytes: number): Allocation {
  const lib = nativeLibrary();
  const out: [bigint | number] = [0n];
  let status = lib.fn.malloc(out, bytes);
  if (status === Status.OutOfMemory && freeForgotten() > 0) status = lib.fn.malloc(out, bytes);
  if (status === Status.OutOfMemory) {
    const { freeBytes, totalBytes } = lib.memoryInfo();
    throw new OutOfDeviceMemoryError(bytes, freeBytes, totalBytes, heldBytes());
  }
  lib.check(status, 'malloc');
  const allocation = { ptr: BigInt(out[0]) as DevicePtr, bytes, freed: false };
  issued.add(allocation);
  return allocation;
}

export class CudaTensor implements TensorLike, Disposable {
  readonly location = 'cuda' as const;
  readonly strides: readonly number[];
  readonly byteLength: number;
  readonly #allocation: Allocation;
  #descriptor: Buffer | undefined;

  private constructor(
    readonly dtype: DType,
    readonly shape: readonly number[],
    allocation: Allocation,
  ) {
    // Only empty() makes tensors; a call from plain JavaScript gets a typed error.
    if (!issued.has(allocation)) {
      throw new ArgumentError(
        'new CudaTensor()',
        'CudaTensor.empty(shape, dtype) or CudaTensor.fromHost(host)',
        'a direct constructor call',
      );
    }
    issued.delete(allocation);
    this.strides = contiguousStrides(shape);
    this.byteLength = numelOf(shape) * dtypeBytes(dtype);
    this.#allocation = allocation;
    leaked.register(this, allocation, allocation);
    live.set(allocation, new WeakRef(this));
  }

  /** An uninitialised device tensor (contents are whatever the memory held). */
  static empty(shape: readonly number[], dtype: DType): CudaTensor {
    // Every argument is checked before the library is loaded or called.
    checkShape(shape, 'shape', MAX_DEVICE_ELEMENTS);
    if (shape.length > MAX_DIMS) {
      throw new ArgumentError('shape', `at most ${MAX_DIMS} dimensions`, `${shape.length}`);
    }
    // One byte at least, so that even an empty tensor has a valid, distinct pointer.
    const bytes = Math.max(1, numelOf(shape) * dtypeBytes(dtype));
    return new CudaTensor(dtype, shape, allocate(bytes));
  }

  /** A device copy of a host tensor (made contiguous first). */
  static fromHost(host: Tensor, stream: CudaStream = CudaStream.legacyDefault): CudaTensor {
    checkHostArgument(host, 'host');
    streamHandle(stream);
    const t = CudaTensor.empty(host.shape, host.dtype);
    t.copyFromHost(host, stream);
    return t;
  }

  get numel(): number {
    return numelOf(this.shape);
  }

  /** The device address; valid until dispose(). */
  get ptr(): DevicePtr {
    checkNotDisposed(this, 'tensor');
    return this.#allocation.ptr;
  }

  get disposed(): boolean {
    return this.#allocation.freed;
  }

  /** The fmla_tensor the native library reads (built once: a tensor's description never changes). */
  descriptor(): Buffer {
    this.#descriptor ??= encodeTensorDescriptor(this.ptr, this.dtype, this.shape, this.strides);
    return this.#descriptor;
  }

  /** Copies a host tensor of the same dtype and shape in; returns once the host data was consumed. */
  copyFromHost(host: Tensor, stream: CudaStream = CudaStream.legacyDefault): void {
    checkHostArgument(host, 'host');
    checkSameLayout(this, host, 'host');
    const handle = streamHandle(stream);
    const src = host.contiguous().data.subarray(0, this.numel);
    nativeLibrary().call('memcpyHtoD', this.ptr, src, this.byteLength, handle);
    stream.synchronize();
  }

  /** A host copy; waits for the work queued on `stream`. */
  toHost(stream: CudaStream = CudaStream.legacyDefault): Tensor {
    const handle = streamHandle(stream);
    const ptr = this.ptr;
    const data = allocHostArray(this.dtype, this.numel);
    nativeLibrary().call('memcpyDtoH', data, ptr, this.byteLength, handle);
    stream.synchronize();
    return new Tensor(this.dtype, this.shape, data);
  }

  /** Sets every byte to `byte` (e.g. 0xff: NaN in every float format), asynchronously. */
  fillBytes(byte: number, stream: CudaStream = CudaStream.legacyDefault): void {
    checkIntegerIn(byte, 'byte', 0, 255);
    const handle = streamHandle(stream);
    nativeLibrary().call('memset', this.ptr, byte, this.byteLength, handle);
  }

  /** Copies another device tensor of the same dtype and shape in, asynchronously. */
  copyFrom(src: CudaTensor, stream: CudaStream = CudaStream.legacyDefault): void {
    if (!(src instanceof CudaTensor)) {
      throw new ArgumentError('src', 'a CudaTensor', describeValue(src));
    }
    checkNotDisposed(src, 'src');
    checkSameLayout(this, src, 'src');
    const handle = streamHandle(stream);
    nativeLibrary().call('memcpyDtoD', this.ptr, src.ptr, this.byteLength, handle);
  }

  /**
   * Applies copy-on-write page copies (PagedKvCache.append) to this cache [numPages, pageSize, ...]:
   * the first `rows` rows of each source page into its destination page, in order, asynchronously.
   */
  copyPages(copies: readonly PageCopy[], stream: CudaStream = CudaStream.legacyDefault): void {
    checkPageCopies(this.shape, copies);
    const handle = streamHandle(stream);
    checkNotDisposed(this, 'tensor');
    const bytes = dtypeBytes(this.dtype);
    const lib = nativeLibrary();
    for (const c of copies) {
      const offset = (page: number): bigint => BigInt(page * this.strides[0] * bytes);
      const at = (page: number) => (this.ptr + offset(page)) as DevicePtr;
      lib.call(
        'memcpyDtoD',
        at(c.dstPage),
        at(c.srcPage),
        c.rows * this.strides[1] * bytes,
        handle,
      );
    }
  }

  dispose(): void {
    const a = this.#allocation;
    if (a.freed) return;
    release(a);
    nativeLibrary().call('free', a.ptr);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function checkHostArgument(host: unknown, name: string): asserts host is Tensor {
  if (!(host instanceof Tensor))
    throw new ArgumentError(name, 'a host Tensor', describeValue(host));
}

function checkSameLayout(dst: CudaTensor, src: TensorLike, name: string): void {
  if (src.dtype !== dst.dtype) throw new ArgumentError(`${name}.dtype`, dst.dtype, src.dtype);
  if (src.shape.length !== dst.shape.length || src.shape.some((d, i) => d !== dst.shape[i])) {
    throw new ArgumentError(`${name}.shape`, `[${dst.shape}]`, `[${src.shape}]`);
  }
  if (src.location === 'cuda' && !isContiguous(src)) {
    throw new ArgumentError(`${name}.strides`, 'contiguous', `[${src.strides}]`);
  }
}
