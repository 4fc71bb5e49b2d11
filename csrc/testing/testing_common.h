// Small shared pieces of the testing helpers (errors go through the library's checks.h).
#pragma once
#include <cuda_runtime.h>

#include "../include/flash_mla_testing.h"
#include "../api/checks.h"

namespace fmla::testing {

// The global nanosecond timer (%globaltimer), comparable across SMs.
__device__ __forceinline__ uint64_t clock64_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

}  // namespace fmla::testing
