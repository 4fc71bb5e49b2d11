/** Reading int32 host tensors as dense arrays: for validation and the CPU backend alike. */
import type { Tensor } from './tensor.js';

/** The int32 elements of `t`, row-major (a view when already dense, else a copy). */
export function int32Values(t: Tensor): Int32Array {
  const dense = t.contiguous();
  return (dense.data as Int32Array).subarray(0, dense.numel);
}
