// Small shared pieces of the testing helpers: argument errors and launch checks, reported through
// the library's thread-local last-error message.
#pragma once
#include <cuda_runtime.h>

#include "../include/flash_mla_testing.h"
#include "../api/errors.h"

namespace fmla::testing {

inline bool is_contiguous(const fmla_tensor& t) {
  int64_t expected = 1;
  for (int i = t.ndim - 1; i >= 0; i--) {
    if (t.shape[i] != 1 && t.strides[i] != expected) return false;
    expected *= t.shape[i];
  }
  return true;
}

// The global nanosecond timer (%globaltimer), comparable across SMs.
__device__ __forceinline__ uint64_t clock64_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

}  // namespace fmla::testing
