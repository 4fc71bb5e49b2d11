#include "../config.h"
#include "schedule.cuh"

namespace fmla {

__device__ __forceinline__ int64_t key_blocks(int32_t seqlen) {
  // Negative lengths are invalid input; they count as empty sequences.
  return seqlen > 0 ? (static_cast<int64_t>(seqlen) + kBlockN - 1) / kBlockN : 0;
}

// Walks the batch greedily (docs/schedule.md). `length`, `set_splits` and `set_part` abstract where
// lengths are read and results written: shared memory for batches that fit, global otherwise.
template <typename Length, typename SetSplits, typename SetPart>
__device__ __forceinline__ void walk(int b, int num_sm_parts, int64_t total, Length length,
                                     SetSplits set_splits, SetPart set_part) {
  const int64_t payload = (total + num_sm_parts - 1) / num_sm_parts + kFixedOverheadBlocks;
  int batch = 0, split = 0;
  int64_t block = 0;
  int32_t previous_length = 0;  // length of sequence batch - 1 (set_splits may overwrite it)
  for (int part = 0; part < num_sm_parts; ++part) {
    const int begin_batch = batch;
    const int64_t begin_token = block * kBlockN;
    const int begin_split = split;
    int64_t remaining = payload;
    int end_batch = batch - 1;
    int64_t end_token = previous_length;
    while (batch < b && remaining > kFixedOverheadBlocks) {
      const int32_t seqlen = length(batch);
      const int64_t rest = key_blocks(seqlen) - block;
      if (rest + kFixedOverheadBlocks <= remaining) {  // the rest of this sequence fits
        remaining -= rest + kFixedOverheadBlocks;
        end_batch = batch;
        end_token = seqlen;
        previous_length = seqlen;
        ++split;
        set_splits(batch, split);
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
    set_part(part, begin_batch, static_cast<int32_t>(begin_token), end_batch,
             static_cast<int32_t>(end_token), begin_split);
  }
}

__global__ void __launch_bounds__(kScheduleThreads) schedule_kernel(const ScheduleParams p) {
  // One thread's sequential walk is the cost of this kernel: when the batch and the parts fit, it
  // touches shared memory only (lens[i] is replaced by num_splits[i + 1] once sequence i is done),
  // and all threads copy the results out afterwards.
  __shared__ int32_t lens[kScheduleSmemSeqs];
  __shared__ int32_t parts[kScheduleSmemParts * 5];
  __shared__ int64_t partial[kScheduleThreads];
  const bool staged = p.b <= kScheduleSmemSeqs && p.num_sm_parts <= kScheduleSmemParts;
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
  const int64_t total = partial[0];
  if (staged) {
    if (threadIdx.x == 0)
      walk(p.b, p.num_sm_parts, total, [&](int i) { return lens[i]; },
           [&](int i, int split) { lens[i] = split; },
           [&](int part, int bb, int bt, int eb, int et, int bs) {
             int32_t* m = parts + part * 5;
             m[0] = bb, m[1] = bt, m[2] = eb, m[3] = et, m[4] = bs;
           });
    __syncthreads();
    for (int i = threadIdx.x; i <= p.b; i += kScheduleThreads)
      p.num_splits[i] = i == 0 ? 0 : lens[i - 1];
    for (int i = threadIdx.x; i < p.num_sm_parts * kMetadataInts; i += kScheduleThreads) {
      const int part = i / kMetadataInts, field = i % kMetadataInts;
      p.metadata[i] = field < 5 ? parts[part * 5 + field] : 0;
    }
  } else if (threadIdx.x == 0) {
    p.num_splits[0] = 0;
    walk(p.b, p.num_sm_parts, total,
         [&](int i) { return max(0, p.cache_seqlens[i * p.seqlens_stride]); },
         [&](int i, int split) { p.num_splits[i + 1] = split; },
         [&](int part, int bb, int bt, int eb, int et, int bs) {
           int32_t* m = p.metadata + static_cast<int64_t>(part) * kMetadataInts;
           m[0] = bb, m[1] = bt, m[2] = eb, m[3] = et, m[4] = bs;
           m[5] = m[6] = m[7] = 0;
         });
  }
}

cudaError_t launch_schedule(const ScheduleParams& p, cudaStream_t stream) {
  schedule_kernel<<<1, kScheduleThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace fmla
