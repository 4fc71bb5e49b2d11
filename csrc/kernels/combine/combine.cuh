// Split-KV combine: merges the float32 partials (o_k, lse_k) of every sequence that the schedule cut
// into several splits:  lse = ln(sum_k exp(lse_k)),  out = sum_k exp(lse_k - lse) * o_k.
// Sequences with one split were written by the decode kernel and are skipped. A partial with lse_k = -inf (no key attended in that split) weighs 0, and a row with no key
// attended at all gets out = 0, lse = +inf.
#pragma once

#include <math.h>

#include "../config.h"
#include "../mla_decode/params.h"
#include "../ptx.cuh"

namespace fmla {

// Sum (or max) over the block; every thread gets the result.
template <bool IS_MAX>
__device__ __forceinline__ float block_reduce(float v, float* scratch) {
#pragma unroll
  for (int d = 16; d > 0; d /= 2) {
    const float o = __shfl_xor_sync(0xffffffffu, v, d);
    v = IS_MAX ? fmaxf(v, o) : v + o;
  }
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  v = scratch[0];
#pragma unroll
  for (int w = 1; w < kCombineThreads / 32; ++w) v = IS_MAX ? fmaxf(v, scratch[w]) : v + scratch[w];
  __syncthreads();  // scratch is reused by the next reduction
  return v;
}

// Grid: (num_sm_parts, s_q * h_q). Block (part, row) merges `row` of the sequence whose FIRST split
// part `part` computed, if that sequence has several splits; every other block exits at once. At
// most num_sm_parts - 1 sequences have several splits, so the grid does not grow with the batch.
template <typename Elem, int D_V>
__global__ void __launch_bounds__(kCombineThreads) combine_kernel(const DecodeParams p) {
  constexpr int kTeam = D_V / 4;                    // threads per row copy, a float4 each
  constexpr int kGroups = kCombineThreads / kTeam;  // the splits are dealt round-robin to groups
  static_assert(kGroups >= 1 && kCombineThreads % kTeam == 0, "team size");
  __shared__ float scratch[kCombineThreads / 32];
  __shared__ float4 group_acc[kCombineThreads];

  // Part q holds the first split of a sequence with several splits exactly when it cuts its last
  // sequence (part q + 1 begins inside it) and does not itself begin inside that sequence. Decided
  // from the metadata alone, so that the many blocks with nothing to do exit after one load.
  const int part = blockIdx.x;
  if (part + 1 >= p.num_sm_parts) return;  // the last part never cuts
  const int32_t* meta = p.sched + part * kMetadataInts;
  const int bi = meta[2];
  const bool cut_after = meta[kMetadataInts] == bi && meta[kMetadataInts + 1] > 0;
  const bool cut_before = meta[0] == bi && meta[1] > 0;
  if (!cut_after || cut_before) return;
  const int first = p.num_splits[bi];
  const int n = p.num_splits[bi + 1] - first;
  const int total_rows = p.s_q * p.h_q;
  const int row = blockIdx.y;
  const int tid = threadIdx.x;

  const float* lse_k = p.lse_accum + static_cast<int64_t>(first) * total_rows + row;
  float max_lse = -INFINITY;
  for (int k = tid; k < n; k += kCombineThreads)
    max_lse = fmaxf(max_lse, lse_k[static_cast<int64_t>(k) * total_rows]);
  max_lse = block_reduce<true>(max_lse, scratch);
  float sum = 0.f;
  if (max_lse != -INFINITY)
    for (int k = tid; k < n; k += kCombineThreads)
      sum += expf(lse_k[static_cast<int64_t>(k) * total_rows] - max_lse);
  sum = block_reduce<false>(sum, scratch);
  const bool empty = !(sum > 0.f);
  const float lse = empty ? INFINITY : max_lse + logf(sum);

  const int group = tid / kTeam, col = (tid % kTeam) * 4;
  float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
  if (!empty) {
    const float* o = p.o_accum + (static_cast<int64_t>(first) * total_rows + row) * D_V + col;
    const int64_t split_stride = static_cast<int64_t>(total_rows) * D_V;
#pragma unroll 8
    for (int k = group; k < n; k += kGroups) {
      const float w = expf(lse_k[static_cast<int64_t>(k) * total_rows] - lse);
      const float4 v = *reinterpret_cast<const float4*>(o + k * split_stride);
      acc.x += w * v.x;
      acc.y += w * v.y;
      acc.z += w * v.z;
      acc.w += w * v.w;
    }
  }
  group_acc[tid] = acc;
  __syncthreads();
  if (group != 0) return;
#pragma unroll
  for (int q = 1; q < kGroups; ++q) {
    const float4 v = group_acc[q * kTeam + tid];
    acc.x += v.x;
    acc.y += v.y;
    acc.z += v.z;
    acc.w += v.w;
  }

  const int g = row / p.rows_per_kv, m = row % p.rows_per_kv;
  const int j = m / p.heads_per_kv;
  const int h = g * p.heads_per_kv + m % p.heads_per_kv;
  Elem* out = static_cast<Elem*>(p.out) + bi * p.o_stride_b + j * p.o_stride_s + h * p.o_stride_h;
  uint2 packed;
  packed.x = pack2<Elem>(acc.x, acc.y);
  packed.y = pack2<Elem>(acc.z, acc.w);
  *reinterpret_cast<uint2*>(out + col) = packed;
  if (tid == 0) p.lse[bi * p.lse_stride_b + h * p.lse_stride_h + j * p.lse_stride_s] = lse;
}

template <typename Elem, int D_V>
cudaError_t launch_combine(const DecodeParams& p, cudaStream_t stream) {
  if (p.num_sm_parts < 2) return cudaSuccess;  // a single part never cuts a sequence
  const dim3 grid(p.num_sm_parts, p.s_q * p.h_q);
  combine_kernel<Elem, D_V><<<grid, kCombineThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace fmla
