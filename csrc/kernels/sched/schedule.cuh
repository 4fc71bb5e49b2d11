// The split-KV schedule (docs/schedule.md) as one small block: the threads sum the per-sequence
// costs, then one thread walks the batch greedily. Integer arithmetic only, so the result is
// bit-identical to the CPU backend's.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

namespace fmla {

struct ScheduleParams {
  const int32_t* cache_seqlens;  // [b]
  int64_t seqlens_stride;
  int32_t* metadata;    // [num_sm_parts, 8], contiguous
  int32_t* num_splits;  // [b + 1], contiguous
  int b;
  int num_sm_parts;
};

cudaError_t launch_schedule(const ScheduleParams& p, cudaStream_t stream);

}  // namespace fmla
