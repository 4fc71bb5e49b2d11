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

// (max, sum of exp(x - max)) of st's set and lse_k[k * stride] for k = k0, k0 + step, ... below n.
__device__ __forceinline__ float2 lse_stats(float2 st, const float* lse_k, int stride, int k0, int n,
                                            int step) {
  for (int k = k0; k < n; k += step) {
    const float v = lse_k[static_cast<int64_t>(k) * stride];
    if (v > st.x) {
      st.y = st.y * expf(st.x - v) + 1.f;
      st.x = v;
    } else if (v != -INFINITY) {
      st.y += expf(v - st.x);
    }
  }
  return st;
}

// The lanes' sets merged over the warp.
__device__ __forceinline__ float2 warp_merge_lse(float2 st) {
#pragma unroll
  for (int d = 16; d > 0; d /= 2)
    st = merge_lse(st, make_float2(__shfl_xor_sync(0xffffffffu, st.x, d),
                                   __shfl_xor_sync(0xffffffffu, st.y, d)));
  return st;
}

// lse_stats over splits i, i + step, ... below n, merged over the warp (st), and this thread's
// first value (own: split i, -inf past n), which it keeps for that split's weight.
struct OwnLseStats {
  float2 st;
  float own;
};
__device__ __forceinline__ OwnLseStats warp_lse_stats_keeping_own(const float* lse_k, int stride,
                                                                  int i, int n, int step) {
  const float own = i < n ? lse_k[static_cast<int64_t>(i) * stride] : -INFINITY;
  const float2 st = own == -INFINITY ? make_float2(-INFINITY, 0.f) : make_float2(own, 1.f);
  return {warp_merge_lse(lse_stats(st, lse_k, stride, i + step, n, step)), own};
}

// Grid x of both combine kernels: item x is sequence x when the batch is smaller than the part
// count (every sequence may have been cut), else the sequence whose FIRST split part x computed (at
// most num_sm_parts - 1 sequences have several splits, so the grid does not grow with the batch).
struct CombineItem {
  int bi, first, n;  // the sequence, its first split, its split count (n < 2: nothing to merge)
};

// Read before wait_for_previous_kernel(): the schedule and num_splits are inputs of the decode
// kernel, which is an ordinary launch (it starts only once all earlier work in the stream is
// complete and visible) and never writes their fields (the GQA decode's counters in the rows'
// spare ints are used only where no combine follows), so they are final by the time this kernel,
// its dependent, starts. One trip to memory fewer after the decode grid ends.
__device__ __forceinline__ CombineItem combine_item(const DecodeParams& p, int x) {
  CombineItem it{x, 0, 0};
  if (p.b >= p.num_sm_parts) {
    // Part x holds the first split of a sequence with several splits exactly when it cuts its last
    // sequence (part x + 1 begins inside it) and does not itself begin inside that sequence.
    const int32_t* meta = p.sched + x * kMetadataInts;
    it.bi = meta[kMetaEndBatch];
    const bool cut_after = meta[kMetadataInts + kMetaBeginBatch] == it.bi &&
                           meta[kMetadataInts + kMetaBeginToken] > 0;
    const bool cut_before = meta[kMetaBeginBatch] == it.bi && meta[kMetaBeginToken] > 0;
    if (!cut_after || cut_before) return it;
  }
  it.first = p.num_splits[it.bi];
  it.n = p.num_splits[it.bi + 1] - it.first;
  return it;
}

// Row `row` (of s_q * h_q) of sequence bi: its output row, and its lse entry in *lse.
template <typename Elem>
__device__ __forceinline__ Elem* combine_out_row(const DecodeParams& p, int bi, int row,
                                                 float** lse) {
  const int g = row / p.rows_per_kv, m = row % p.rows_per_kv;
  const int j = m / p.heads_per_kv;
  const int h = g * p.heads_per_kv + m % p.heads_per_kv;
  *lse = p.lse + bi * p.lse_stride_b + h * p.lse_stride_h + j * p.lse_stride_s;
  return static_cast<Elem*>(p.out) + bi * p.o_stride_b + j * p.o_stride_s + h * p.o_stride_h;
}

// Many splits a sequence (small batches). Grid: (items, s_q * h_q, slices). Block (x, row, z)
// merges columns [z, z + 1) * D_V / slices of `row`; its kCombineThreads threads form groups of
// D_V / slices / 4 (a float4 each) that take the splits round-robin, so a long sequence's 100+
// splits are spread over many blocks and many loads are in flight.
template <typename Elem, int D_V>
__global__ void __launch_bounds__(kCombineThreads) combine_kernel(const DecodeParams p) {
  static_assert(D_V % 4 == 0 && D_V / 4 <= kCombineThreads && kCombineThreads % (D_V / 4) == 0,
                "a row of float4s divides the block");
  __shared__ float2 warp_stats[kCombineThreads / 32];
  __shared__ float weight[kCombineThreads];  // exp(lse_k - lse) of the current chunk of splits
  __shared__ float4 group_acc[kCombineThreads];

  // The schedule before the wait (see combine_item), the decode kernel's partials after it.
  const CombineItem it = combine_item(p, blockIdx.x);
  if (it.n < 2) return;  // nothing to merge, or written directly by the decode kernel
  wait_for_previous_kernel();
  const int bi = it.bi, first = it.first, n = it.n;
  const int total_rows = p.s_q * p.h_q;
  const int row = blockIdx.y;
  const int tid = threadIdx.x;
  const float* lse_k = p.lse_accum + static_cast<int64_t>(first) * total_rows + row;

  const int cols = D_V / static_cast<int>(gridDim.z);
  const int team = cols / 4, groups = kCombineThreads / team;
  const int group = tid / team, col = blockIdx.z * cols + (tid % team) * 4;
  const float* o = p.o_accum + (static_cast<int64_t>(first) * total_rows + row) * D_V + col;
  const int64_t split_stride = static_cast<int64_t>(total_rows) * D_V;
  // This thread's first kCombinePrefetch partials (splits group, group + groups, ...), loaded
  // before the lse pass so that the two trips to memory overlap instead of following each other.
  float4 pre[kCombinePrefetch];
#pragma unroll
  for (int j = 0; j < kCombinePrefetch; ++j) {
    const int k = group + j * groups;
    pre[j] = k < n ? __ldg(reinterpret_cast<const float4*>(o + k * split_stride))
                   : make_float4(0.f, 0.f, 0.f, 0.f);
  }

  // lse over the splits in one pass: per-thread (max, sum) pairs, merged across the block. The
  // thread's first value (split tid) is kept for its weight.
  auto [st, own] = warp_lse_stats_keeping_own(lse_k, total_rows, tid, n, kCombineThreads);
  if (tid % 32 == 0) warp_stats[tid / 32] = st;
  __syncthreads();
  st = warp_stats[0];
#pragma unroll
  for (int w = 1; w < kCombineThreads / 32; ++w) st = merge_lse(st, warp_stats[w]);
  const bool empty = !(st.y > 0.f);
  const float lse = empty ? INFINITY : st.x + logf(st.y);

  float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
  auto add = [&](float w, float4 v) {
    acc.x += w * v.x;
    acc.y += w * v.y;
    acc.z += w * v.z;
    acc.w += w * v.w;
  };
  if (!empty) {
    for (int base = 0; base < n; base += kCombineThreads) {
      const int k_w = base + tid;
      const float v = base == 0 ? own : k_w < n ? lse_k[static_cast<int64_t>(k_w) * total_rows]
                                                : -INFINITY;
      weight[tid] = k_w < n ? expf(v - lse) : 0.f;
      __syncthreads();
      const int end = min(n, base + kCombineThreads);
      int k = base + group;
      if (base == 0) {  // the prefetched partials first
#pragma unroll
        for (int j = 0; j < kCombinePrefetch; ++j, k += groups)
          if (k < end) add(weight[k], pre[j]);
      }
#pragma unroll 8
      for (; k < end; k += groups)
        add(weight[k - base], __ldg(reinterpret_cast<const float4*>(o + k * split_stride)));
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

  float* lse_out;
  Elem* out = combine_out_row<Elem>(p, bi, row, &lse_out);
  uint2 packed;
  packed.x = pack2<Elem>(acc.x, acc.y);
  packed.y = pack2<Elem>(acc.z, acc.w);
  *reinterpret_cast<uint2*>(out + col) = packed;
  if (tid == 0 && blockIdx.z == 0) *lse_out = lse;
}

// Few splits a sequence (batches about as large as the part count, or up to 16 splits where the
// rows alone give the SMs enough warps; launch_combine): one warp a row, whose lanes own
// interleaved columns (coalesced loads) and walk the splits with the weights in registers; no
// block-wide reductions. Grid: (items, ceil(s_q * h_q / rows a block)). The first two splits'
// partials are loaded beside the lse values, so that the usual two splits take one trip to memory
// after the decode grid ends, not two; __launch_bounds__ keeps the registers to what
// kCombineRowsBlocksPerSm blocks an SM allow (a large batch's rows take several waves of them).
template <typename Elem, int D_V>
__global__ void __launch_bounds__(kCombineThreads, kCombineRowsBlocksPerSm)
    combine_rows_kernel(const DecodeParams p) {
  constexpr int kVec = D_V >= 128 ? 4 : 2;  // floats a lane loads at once
  constexpr int kChunks = D_V / (32 * kVec);
  static_assert(D_V % (32 * kVec) == 0, "a row is whole vectors of every lane");
  // The schedule before the wait (see combine_item), the decode kernel's partials after it.
  const CombineItem it = combine_item(p, blockIdx.x);
  if (it.n < 2) return;  // nothing to merge, or written directly by the decode kernel
  wait_for_previous_kernel();
  const int bi = it.bi, first = it.first, n = it.n;
  const int total_rows = p.s_q * p.h_q;
  const int row = blockIdx.y * (kCombineThreads / 32) + threadIdx.x / 32;
  if (row >= total_rows) return;
  const int lane = threadIdx.x % 32;
  const float* lse_k = p.lse_accum + static_cast<int64_t>(first) * total_rows + row;
  const float* o = p.o_accum + (static_cast<int64_t>(first) * total_rows + row) * D_V + lane * kVec;
  const int64_t split_stride = static_cast<int64_t>(total_rows) * D_V;
  auto load = [&](int k, float (&v)[kChunks][kVec]) {
    const float* src = o + k * split_stride;
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      if constexpr (kVec == 4) {
        const float4 x = __ldg(reinterpret_cast<const float4*>(src + c * 32 * kVec));
        v[c][0] = x.x, v[c][1] = x.y, v[c][2] = x.z, v[c][3] = x.w;
      } else {
        const float2 x = __ldg(reinterpret_cast<const float2*>(src + c * 32 * kVec));
        v[c][0] = x.x, v[c][1] = x.y;
      }
    }
  };
  float acc[kChunks][kVec], next[kChunks][kVec], second[kChunks][kVec];
  load(0, acc);
  load(1, next);

  // lse over the splits; this lane's own value (split lane) kept for its weight.
  const auto [st, own] = warp_lse_stats_keeping_own(lse_k, total_rows, lane, n, 32);
  const bool empty = !(st.y > 0.f);
  const float lse = empty ? INFINITY : st.x + logf(st.y);

  if (empty) {
#pragma unroll
    for (int c = 0; c < kChunks; ++c)
#pragma unroll
      for (int e = 0; e < kVec; ++e) acc[c][e] = 0.f;
  } else {
    const float w_own = own == -INFINITY ? 0.f : expf(own - lse);
    // Split k's weight (k < n, warp-uniform): from lane k's value, past the lanes read again.
    auto weight = [&](int k) {
      return k < 32 ? __shfl_sync(0xffffffffu, w_own, k)
                    : expf(lse_k[static_cast<int64_t>(k) * total_rows] - lse);
    };
    const float w0 = weight(0), w1 = weight(1);
#pragma unroll
    for (int c = 0; c < kChunks; ++c)
#pragma unroll
      for (int e = 0; e < kVec; ++e) acc[c][e] = w0 * acc[c][e] + w1 * next[c][e];
    // The rest two splits at a time, both loads in flight before either is added.
    for (int k = 2; k < n; k += 2) {
      const bool pair = k + 1 < n;
      load(k, next);
      if (pair) load(k + 1, second);
      const float wk = weight(k), wk1 = pair ? weight(k + 1) : 0.f;
#pragma unroll
      for (int c = 0; c < kChunks; ++c)
#pragma unroll
        for (int e = 0; e < kVec; ++e)
          acc[c][e] += wk * next[c][e] + (pair ? wk1 * second[c][e] : 0.f);
    }
  }
  float* lse_out;
  Elem* out = combine_out_row<Elem>(p, bi, row, &lse_out) + lane * kVec;
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    if constexpr (kVec == 4) {
      uint2 packed;
      packed.x = pack2<Elem>(acc[c][0], acc[c][1]);
      packed.y = pack2<Elem>(acc[c][2], acc[c][3]);
      *reinterpret_cast<uint2*>(out + c * 32 * kVec) = packed;
    } else {
      *reinterpret_cast<uint32_t*>(out + c * 32 * kVec) = pack2<Elem>(acc[c][0], acc[c][1]);
    }
  }
  if (lane == 0) *lse_out = lse;
}

template <typename Elem, int D_V>
cudaError_t launch_combine(const DecodeParams& p, cudaStream_t stream) {
  if (p.num_sm_parts < 2) return cudaSuccess;  // a single part never cuts a sequence
  const int items = p.b < p.num_sm_parts ? p.b : p.num_sm_parts - 1;
  const int64_t rows = static_cast<int64_t>(p.s_q) * p.h_q;
  const bool few_splits = static_cast<int64_t>(p.b) * kCombineRowsMaxSplits >= p.num_sm_parts;
  const bool rows_fill = static_cast<int64_t>(p.b) * kCombineRowsManySplits >= p.num_sm_parts &&
                         items * rows >= kCombineRowsMinWarps;
  if (few_splits || rows_fill) {
    constexpr int kRowsPerBlock = kCombineThreads / 32;
    const dim3 grid(items, static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock));
    return launch_dependent(combine_rows_kernel<Elem, D_V>, grid, dim3(kCombineThreads), 0, stream,
                            p);
  }
  // Cut the rows into column slices (a float4 per thread, at least 32 columns a slice) until the
  // grid has a couple of blocks per SM.
  int slices = 1;
  while (items * rows * slices < kCombineMinBlocks && D_V / (2 * slices) >= 32 &&
         kCombineThreads % (D_V / (2 * slices) / 4) == 0)
    slices *= 2;
  const dim3 grid(items, static_cast<unsigned>(rows), slices);
  return launch_dependent(combine_kernel<Elem, D_V>, grid, dim3(kCombineThreads), 0, stream, p);
}

}  // namespace fmla
