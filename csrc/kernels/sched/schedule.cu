#include "../config.h"
#include "schedule.cuh"

namespace fmla {

__device__ __forceinline__ int64_t key_blocks(int32_t seqlen) {
  // Negative lengths are invalid input; they count as empty sequences.
  return seqlen > 0 ? (static_cast<int64_t>(seqlen) + kBlockN - 1) / kBlockN : 0;
}

__global__ void __launch_bounds__(kScheduleThreads) schedule_kernel(const ScheduleParams p) {
  // The walk below is one thread's sequential loop; it reads the lengths from shared memory when
  // the batch fits, since a global load per step would dominate its time.
  __shared__ int32_t lens[kScheduleSmemSeqs];
  __shared__ int64_t partial[kScheduleThreads];
  const bool staged = p.b <= kScheduleSmemSeqs;
  int64_t cost = 0;
  for (int i = threadIdx.x; i < p.b; i += kScheduleThreads) {
    const int32_t len = max(0, p.cache_seqlens[i * p.seqlens_stride]);
    if (staged) lens[i] = len;
    cost += key_blocks(len) + kFixedOverheadBlocks;
  }
  partial[threadIdx.x] = cost;
  __syncthreads();
  for (int stride = kScheduleThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x != 0) return;
  auto length = [&](int i) { return staged ? lens[i] : max(0, p.cache_seqlens[i * p.seqlens_stride]); };

  const int64_t total = partial[0];
  const int64_t payload = (total + p.num_sm_parts - 1) / p.num_sm_parts + kFixedOverheadBlocks;
  int batch = 0, split = 0;
  int64_t block = 0;
  p.num_splits[0] = 0;
  for (int part = 0; part < p.num_sm_parts; ++part) {
    const int begin_batch = batch;
    const int64_t begin_token = block * kBlockN;
    const int begin_split = split;
    int64_t remaining = payload;
    int end_batch = batch - 1;
    int64_t end_token = batch > 0 ? length(batch - 1) : 0;
    while (batch < p.b && remaining > kFixedOverheadBlocks) {
      const int32_t seqlen = length(batch);
      const int64_t rest = key_blocks(seqlen) - block;
      if (rest + kFixedOverheadBlocks <= remaining) {  // the rest of this sequence fits
        remaining -= rest + kFixedOverheadBlocks;
        end_batch = batch;
        end_token = seqlen;
        ++split;
        p.num_splits[batch + 1] = split;
        ++batch;
        block = 0;
      } else {  // cut it; the rest goes to the next part
        block += remaining - kFixedOverheadBlocks;
        end_batch = batch;
        end_token = block * kBlockN;
        ++split;
        remaining = 0;
      }
    }
    int32_t* meta = p.metadata + static_cast<int64_t>(part) * kMetadataInts;
    meta[0] = begin_batch;
    meta[1] = static_cast<int32_t>(begin_token);
    meta[2] = end_batch;
    meta[3] = static_cast<int32_t>(end_token);
    meta[4] = begin_split;
    meta[5] = meta[6] = meta[7] = 0;
  }
}

cudaError_t launch_schedule(const ScheduleParams& p, cudaStream_t stream) {
  schedule_kernel<<<1, kScheduleThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace fmla
