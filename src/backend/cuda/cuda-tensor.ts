/**
 * Tensors in device memory. A CudaTensor owns its allocation: `dispose()` (or `using`) frees it at
 * once; a FinalizationRegistry frees what was forgotten, as a safety net only.
 */
import { allocHostArray, dtypeBytes, type DType } from '../../dtype.js';
import { ArgumentError } from '../../errors.js';
import { contiguousStrides, isContiguous, numelOf, Tensor, type TensorLike } from '../../tensor.js';
import { checkPageCopies, type PageCopy } from '../../kvcache/page-copies.js';
import { encodeTensorDescriptor, MAX_DIMS, type DevicePtr } from './native-api.js';
import { CudaStream, nativeLibrary } from './runtime.js';

interface Allocation {
  ptr: DevicePtr;
  freed: boolean;
}

const leaked = new FinalizationRegistry<Allocation>((allocation) => {
  if (allocation.freed) return;
  allocation.freed = true;
  try {
    nativeLibrary().raw('free', allocation.ptr);
  } catch {
    // Process teardown: nothing left to do.
  }
});

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
    this.strides = contiguousStrides(shape);
    this.byteLength = numelOf(shape) * dtypeBytes(dtype);
    this.#allocation = allocation;
    leaked.register(this, allocation, allocation);
  }

  /** An uninitialised device tensor (contents are whatever the memory held). */
  static empty(shape: readonly number[], dtype: DType): CudaTensor {
    if (shape.length > MAX_DIMS) {
      throw new ArgumentError('shape', `at most ${MAX_DIMS} dimensions`, `${shape.length}`);
    }
    for (let i = 0; i < shape.length; i++) {
      if (!Number.isInteger(shape[i]) || shape[i] < 0) {
        throw new ArgumentError(`shape[${i}]`, 'a non-negative integer', String(shape[i]));
      }
    }
    // One byte at least, so that even an empty tensor has a valid, distinct pointer.
    const bytes = Math.max(1, numelOf(shape) * dtypeBytes(dtype));
    const ptr = nativeLibrary().create<DevicePtr>('malloc', bytes);
    return new CudaTensor(dtype, shape, { ptr, freed: false });
  }

  /** A device copy of a host tensor (made contiguous first). */
  static fromHost(host: Tensor, stream: CudaStream = CudaStream.legacyDefault): CudaTensor {
    const t = CudaTensor.empty(host.shape, host.dtype);
    t.copyFromHost(host, stream);
    return t;
  }

  get numel(): number {
    return numelOf(this.shape);
  }

  /** The device address; valid until dispose(). */
  get ptr(): DevicePtr {
    if (this.#allocation.freed) throw new Error('CudaTensor used after dispose()');
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
    checkSameLayout(this, host, 'host');
    const src = host.contiguous().data.subarray(0, this.numel);
    nativeLibrary().call('memcpyHtoD', this.ptr, src, this.byteLength, stream.handle);
    stream.synchronize();
  }

  /** A host copy; waits for the work queued on `stream`. */
  toHost(stream: CudaStream = CudaStream.legacyDefault): Tensor {
    const data = allocHostArray(this.dtype, this.numel);
    nativeLibrary().call('memcpyDtoH', data, this.ptr, this.byteLength, stream.handle);
    stream.synchronize();
    return new Tensor(this.dtype, this.shape, data);
  }

  /** Sets every byte to `byte` (e.g. 0xff: NaN in every float format), asynchronously. */
  fillBytes(byte: number, stream: CudaStream = CudaStream.legacyDefault): void {
    nativeLibrary().call('memset', this.ptr, byte, this.byteLength, stream.handle);
  }

  /** Copies another device tensor of the same dtype and shape in, asynchronously. */
  copyFrom(src: CudaTensor, stream: CudaStream = CudaStream.legacyDefault): void {
    checkSameLayout(this, src, 'src');
    nativeLibrary().call('memcpyDtoD', this.ptr, src.ptr, this.byteLength, stream.handle);
  }

  /**
   * Applies copy-on-write page copies (PagedKvCache.append) to this cache [numPages, pageSize, ...]:
   * the first `rows` rows of each source page into its destination page, in order, asynchronously.
   */
  copyPages(copies: readonly PageCopy[], stream: CudaStream = CudaStream.legacyDefault): void {
    checkPageCopies(this.shape, copies);
    const bytes = dtypeBytes(this.dtype);
    const lib = nativeLibrary();
    for (const c of copies) {
      const offset = (page: number): bigint => BigInt(page * this.strides[0] * bytes);
      lib.call(
        'memcpyDtoD',
        this.ptr + offset(c.dstPage),
        this.ptr + offset(c.srcPage),
        c.rows * this.strides[1] * bytes,
        stream.handle,
      );
    }
  }

  dispose(): void {
    const a = this.#allocation;
    if (a.freed) return;
    a.freed = true;
    leaked.unregister(a);
    nativeLibrary().call('free', a.ptr);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
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
