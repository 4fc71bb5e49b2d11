/** Writing results into host tensors, whatever their strides. */
import type { DType, HostArray } from '../../dtype.js';
import { Tensor } from '../../tensor.js';

/**
 * `values` (row-major, already in `dtype`'s storage) as the result tensor: written into `given` when
 * the caller preallocated it (checked to match by src/attention/), else wrapped in a new tensor.
 */
export function outputTensor(
  given: Tensor | undefined,
  dtype: DType,
  shape: readonly number[],
  values: HostArray,
): Tensor {
  if (given === undefined) return new Tensor(dtype, shape, values);
  // Walk the index like an odometer, keeping the storage offset in step with it.
  const idx = new Array<number>(shape.length).fill(0);
  let offset = 0;
  for (let flat = 0; flat < values.length; flat++) {
    given.data[offset] = values[flat];
    for (let d = idx.length - 1; d >= 0; d--) {
      offset += given.strides[d];
      if (++idx[d] < shape[d]) break;
      offset -= idx[d] * given.strides[d];
      idx[d] = 0;
    }
  }
  return given;
}
