/**
 * Tensors: a dtype, a shape, strides (in elements) and a location. Host tensors own a typed array;
 * device tensors (location 'cuda') are created by the CUDA backend and share the same description.
 */
import { checkTensorValues } from './check-values.js';
import { describeValue } from './describe-value.js';
import { ArgumentError } from './errors.js';
import {
  allocHostArray,
  decode,
  decodeArray,
  DTYPES,
  encodeArray,
  isDType,
  MAX_HOST_ELEMENTS,
  type DType,
  type EncodeOptions,
  type HostArray,
} from './dtype.js';

export type Location = 'host' | 'cuda';

/** What every tensor, wherever it lives, describes about itself. */
export interface TensorLike {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Strides in elements, one per dimension. */
  readonly strides: readonly number[];
  readonly location: Location;
  /** True once a device tensor's memory was freed (`dispose()`); host tensors never are. */
  readonly disposed?: boolean;
  /** The tensor on the host: itself for a host tensor, a copy of a device tensor. */
  toHost(): Tensor;
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: readonly number[]): number[] {
  checkShape(shape, 'shape', Infinity);
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** True when the strides are the row-major strides of the shape (size-1 dims may have any stride). */
export function isContiguous(t: Pick<TensorLike, 'shape' | 'strides'>): boolean {
  const { shape, strides } = (t ?? {}) as Partial<TensorLike>;
  if (!Array.isArray(shape) || !Array.isArray(strides) || shape.length !== strides.length) {
    throw new ArgumentError(
      't',
      'a tensor: { shape, strides } arrays of one length',
      describeValue(t),
    );
  }
  let s = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.strides[i] !== s) return false;
    s *= t.shape[i];
  }
  return true;
}

/**
 * `shape` is an array of non-negative integers whose product is at most `maxElements` (for host
 * tensors, what a typed array can hold).
 */
export function checkShape(
  shape: unknown,
  argument: string,
  maxElements = MAX_HOST_ELEMENTS,
): asserts shape is readonly number[] {
  if (!Array.isArray(shape)) {
    throw new ArgumentError(argument, 'an array of dimensions', describeValue(shape));
  }
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new ArgumentError(`${argument}[${i}]`, 'a non-negative integer', describeValue(d));
    }
  }
  const n = numelOf(shape);
  if (n > maxElements) {
    throw new ArgumentError(
      argument,
      `at most ${maxElements} elements in all`,
      `[${shape.join(', ')}] (${n} elements)`,
    );
  }
}

function checkDType(dtype: unknown): asserts dtype is DType {
  if (!isDType(dtype))
    throw new ArgumentError('dtype', `one of ${DTYPES.join(', ')}`, describeValue(dtype));
}

/** A tensor in host memory. Narrow floats hold raw bit patterns; use `toFloat32()` to read values. */
export class Tensor implements TensorLike {
  readonly location = 'host' as const;
  readonly strides: readonly number[];

  constructor(
    readonly dtype: DType,
    readonly shape: readonly number[],
    /** Raw storage, row-major over `shape` unless `strides` say otherwise. */
    readonly data: HostArray,
    strides?: readonly number[],
  ) {
    checkDType(dtype);
    checkShape(shape, 'shape');
    if (strides !== undefined) checkShape(strides, 'strides', Infinity);
    this.strides = strides ?? contiguousStrides(shape);
    const expected = allocHostArray(dtype, 0).constructor;
    if (data?.constructor !== expected) {
      throw new ArgumentError('data', `a ${expected.name} for dtype ${dtype}`, describeValue(data));
    }
    if (this.strides.length !== shape.length) {
      throw new ArgumentError('strides', `${shape.length} strides`, `${this.strides.length}`);
    }
    // Negative strides (rejected above) would address memory before the data; PyTorch has none.
    let extent = 0;
    for (let i = 0; i < shape.length; i++) {
      if (shape[i] === 0) extent = -Infinity;
      extent += (shape[i] - 1) * this.strides[i];
    }
    if (extent + 1 > data.length) {
      throw new ArgumentError('data.length', `at least ${extent + 1} elements`, `${data.length}`);
    }
  }

  /** A zero-filled host tensor. */
  static zeros(shape: readonly number[], dtype: DType): Tensor {
    checkDType(dtype);
    checkShape(shape, 'shape');
    return new Tensor(dtype, shape, allocHostArray(dtype, numelOf(shape)));
  }

  /**
   * A host tensor holding `values` (row-major), rounded to `dtype` to nearest even. Values must be
   * numbers; NaN and +-Infinity are kept for float dtypes, int32 takes integers in its range only.
   */
  static from(
    values: ArrayLike<number>,
    shape: readonly number[],
    dtype: DType,
    options?: EncodeOptions,
  ): Tensor {
    checkDType(dtype);
    checkShape(shape, 'shape');
    checkTensorValues(values, dtype, 'values');
    const n = numelOf(shape);
    if (values.length !== n) {
      throw new ArgumentError(
        'values.length',
        `${n} (the product of shape [${shape}])`,
        `${values.length}`,
      );
    }
    return new Tensor(dtype, shape, encodeArray(dtype, values, undefined, options));
  }

  get numel(): number {
    return numelOf(this.shape);
  }

  /**
   * Storage offset of the element at `index`. A shorter index selects a sub-tensor and gives the
   * offset of its first element.
   */
  offsetOf(...index: number[]): number {
    if (index.length > this.shape.length) {
      throw new ArgumentError('index', `at most ${this.shape.length} indices`, `${index.length}`);
    }
    let o = 0;
    for (let i = 0; i < index.length; i++) {
      const k = index[i];
      if (!Number.isInteger(k) || k < 0 || k >= this.shape[i]) {
        throw new ArgumentError(
          `index[${i}]`,
          `an integer in [0, ${this.shape[i]})`,
          describeValue(k),
        );
      }
      o += k * this.strides[i];
    }
    return o;
  }

  /** The element at `index` (one index per dimension), decoded to a number. */
  get(...index: number[]): number {
    if (index.length !== this.shape.length) {
      throw new ArgumentError('index', `${this.shape.length} indices`, `${index.length}`);
    }
    const raw = this.data[this.offsetOf(...index)];
    if (this.dtype === 'float32' || this.dtype === 'int32') return raw;
    return decode(this.dtype, raw);
  }

  /** All elements, row-major, decoded to float32 (a copy). */
  toFloat32(): Float32Array {
    const src = this.contiguous();
    return decodeArray(this.dtype, src.data.subarray(0, this.numel) as HostArray);
  }

  /** This tensor: it is on the host already. */
  toHost(): Tensor {
    return this;
  }

  /** A row-major copy (or this tensor, if already row-major and exactly sized). */
  contiguous(): Tensor {
    if (isContiguous(this) && this.data.length === this.numel) return this;
    const out = allocHostArray(this.dtype, this.numel);
    // Walk the index like an odometer, keeping the storage offset in step with it.
    const idx = new Array<number>(this.shape.length).fill(0);
    let offset = 0;
    for (let flat = 0; flat < out.length; flat++) {
      out[flat] = this.data[offset];
      for (let d = idx.length - 1; d >= 0; d--) {
        offset += this.strides[d];
        if (++idx[d] < this.shape[d]) break;
        offset -= idx[d] * this.strides[d];
        idx[d] = 0;
      }
    }
    return new Tensor(this.dtype, this.shape, out);
  }

  /**
   * The same elements, in row-major order, with a new shape. Shares storage when this tensor is
   * row-major and exactly sized (see `contiguous()`), else copies first.
   */
  reshape(shape: readonly number[]): Tensor {
    checkShape(shape, 'shape');
    if (numelOf(shape) !== this.numel) {
      throw new ArgumentError('shape', `${this.numel} elements`, `[${shape}] (${numelOf(shape)})`);
    }
    const src = this.contiguous();
    return new Tensor(this.dtype, shape, src.data);
  }
}
