// Split-KV combine: merges the float32 partials (o_k, lse_k) of every sequence that the schedule cut
// into several splits:  lse = ln(sum_k exp(lse_k)),  out = sum_k exp(lse_k - lse) * o_k.
// Sequences with one split were written by the decode kernel and are skipped. A partial with
// lse_k = -inf (no key attended in that split) weighs 0, and a row with no key attended at all gets
// out = 0, lse = +inf.
#pragma once

#include <math.h>

#include "../config.h"
#include "../common/decode_params.h"
#include "../common/pdl.cuh"
#include "../common/ptx.cuh"
#include "../common/schedule_fields.h"

namespace fmla {

// (max, sum of exp(x - max)) of two sets merged; max = -inf means an empty set.
__device__ __forceinline__ float2 merge_lse(float2 a, float2 b) {
  const float m = fmaxf(a.x, b.x);
  if (m == -INFINITY) return make_float2(m, 0.f);
  return make_float2(m, a.y * expf(a.x - m) + b.y * expf(b.x - m));
}

// Grid: (items, s_q * h_q, slices). Item x is sequence x when the batch is smaller than the part
// count (every sequence may have been cut), else the sequence whose FIRST split part x computed (at
// most num_sm_parts - 1 sequences have several splits, so the grid does not grow with the batch).
// Block (x, row, z) merges columns [z, z + 1) * D_V / slices of `row`; its kCombineThreads threads
// form groups of D_V / slices / 4 (a float4 each) that take the splits round-robin, so a long
// sequence's 100+ splits are spread over many blocks and many loads are in flight.
template <typename Elem, int D_V>
__global__ void __launch_bounds__(kCombineThreads) combine_kernel(const DecodeParams p) {
  static_assert(D_V % 4 == 0 && D_V / 4 <= kCombineThreads && kCombineThreads % (D_V / 4) == 0,
                "a row of float4s divides the block");
  __shared__ float2 warp_stats[kCombineThreads / 32];
  __shared__ float weight[kCombineThreads];  // exp(lse_k - lse) of the current chunk of splits
  __shared__ float4 group_acc[kCombineThreads];

  wait_for_previous_kernel();  // the decode kernel's partials and the schedule
  int bi;
  if (p.b < p.num_sm_parts) {
    bi = blockIdx.x;
  } else {
    // Part q holds the first split of a sequence with several splits exactly when it cuts its
    // last sequence (part q + 1 begins inside it) and does not itself begin inside that sequence.
    const int32_t* meta = p.sched + blockIdx.x * kMetadataInts;
    bi = meta[kMetaEndBatch];
    const bool cut_after =
        meta[kMetadataInts + kMetaBeginBatch] == bi && meta[kMetadataInts + kMetaBeginToken] > 0;
    const bool cut_before = meta[kMetaBeginBatch] == bi && meta[kMetaBeginToken] > 0;
    if (!cut_after || cut_before) return;
  }
  const int first = p.num_splits[bi];
  const int n = p.num_splits[bi + 1] - first;
  if (n < 2) return;  // written directly by the decode kernel
  const int total_rows = p.s_q * p.h_q;
  const int row = blockIdx.y;
  const int tid = threadIdx.x;
  const float* lse_k = p.lse_accum + static_cast<int64_t>(first) * total_rows + row;

  // lse over the splits in one pass: per-thread (max, sum) pairs, merged across the block.
  float2 st = make_float2(-INFINITY, 0.f);
  for (int k = tid; k < n; k += kCombineThreads) {
    const float v = lse_k[static_cast<int64_t>(k) * total_rows];
    if (v > st.x) {
      st.y = st.y * expf(st.x - v) + 1.f;
      st.x = v;
    } else if (v != -INFINITY) {
      st.y += expf(v - st.x);
    }
  }
#pragma unroll
  for (int d = 16; d > 0; d /= 2)
    st = merge_lse(st, make_float2(__shfl_xor_sync(0xffffffffu, st.x, d),
                                   __shfl_xor_sync(0xffffffffu, st.y, d)));
  if (tid % 32 == 0) warp_stats[tid / 32] = st;
  __syncthreads();
  st = warp_stats[0];
#pragma unroll
  for (int w = 1; w < kCombineThreads / 32; ++w) st = merge_lse(st, warp_stats[w]);
  const bool empty = !(st.y > 0.f);
  const float lse = empty ? INFINITY : st.x + logf(st.y);

  const int cols = D_V / static_cast<int>(gridDim.z);
  const int team = cols / 4, groups = kCombineThreads / team;
  const int group = tid / team, col = blockIdx.z * cols + (tid % team) * 4;
  float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
  if (!empty) {
    const float* o = p.o_accum + (static_cast<int64_t>(first) * total_rows + row) * D_V + col;
    const int64_t split_stride = static_cast<int64_t>(total_rows) * D_V;
    for (int base = 0; base < n; base += kCombineThreads) {
      const int k_w = base + tid;
      weight[tid] = k_w < n ? expf(lse_k[static_cast<int64_t>(k_w) * total_rows] - lse) : 0.f;
      __syncthreads();
      const int end = min(n, base + kCombineThreads);
#pragma unroll 8
      for (int k = base + group; k < end; k += groups) {
        const float w = weight[k - base];
        const float4 v = __ldg(reinterpret_cast<const float4*>(o + k * split_stride));
        acc.x += w * v.x;
        acc.y += w * v.y;
        acc.z += w * v.z;
        acc.w += w * v.w;
      }
      __syncthreads();  // weight[] is refilled for the next chunk
    }
  }
  // Tree over the groups: after the step with stride s, threads below s hold the sum of their
  // column over groups tid / team, tid / team + s / team, ...
  group_acc[tid] = acc;
  __syncthreads();
  for (int stride = kCombineThreads / 2; stride >= team; stride /= 2) {
    if (tid < stride) {
      const float4 v = group_acc[tid + stride];
      acc.x += v.x;
      acc.y += v.y;
      acc.z += v.z;
      acc.w += v.w;
      group_acc[tid] = acc;
    }
    __syncthreads();
  }
  if (group != 0) return;

  const int g = row / p.rows_per_kv, m = row % p.rows_per_kv;
  const int j = m / p.heads_per_kv;
  const int h = g * p.heads_per_kv + m % p.heads_per_kv;
  Elem* out = static_cast<Elem*>(p.out) + bi * p.o_stride_b + j * p.o_stride_s + h * p.o_stride_h;
  uint2 packed;
  packed.x = pack2<Elem>(acc.x, acc.y);
  packed.y = pack2<Elem>(acc.z, acc.w);
  *reinterpret_cast<uint2*>(out + col) = packed;
  if (tid == 0 && blockIdx.z == 0)
    p.lse[bi * p.lse_stride_b + h * p.lse_stride_h + j * p.lse_stride_s] = lse;
}

template <typename Elem, int D_V>
cudaError_t launch_combine(const DecodeParams& p, cudaStream_t stream) {
  if (p.num_sm_parts < 2) return cudaSuccess;  // a single part never cuts a sequence
  // Items that may need merging; cut the rows into column slices (a float4 per thread, at least
  // 32 columns a slice) until the grid has a couple of blocks per SM.
  const int items = p.b < p.num_sm_parts ? p.b : p.num_sm_parts - 1;
  const int64_t rows = static_cast<int64_t>(p.s_q) * p.h_q;
  int slices = 1;
  while (items * rows * slices < kCombineMinBlocks && D_V / (2 * slices) >= 32 &&
         kCombineThreads % (D_V / (2 * slices) / 4) == 0)
    slices *= 2;
  const dim3 grid(items, static_cast<unsigned>(rows), slices);
  return launch_dependent(combine_kernel<Elem, D_V>, grid, dim3(kCombineThreads), 0, stream, p);
}

}  // namespace fmla
