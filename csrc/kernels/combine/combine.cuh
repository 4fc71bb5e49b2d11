// Split-KV combine: merges the float32 partials (o_k, lse_k) of every sequence that the schedule cut
// into several splits:  lse = ln(sum_k exp(lse_k)),  out = sum_k exp(lse_k - lse) * o_k.
// Sequences with one split were written by the decode kernel and are skipped. D_V / 4 threads per
// query row, each owning a float4 of it across all splits; a partial with lse_k = -inf (no key attended in that split) weighs 0, and a row with no key
// attended at all gets out = 0, lse = +inf.
#pragma once

#include <math.h>

#include "../config.h"
#include "../mla_decode/params.h"
#include "../ptx.cuh"

namespace fmla {

template <typename Elem, int D_V>
__global__ void __launch_bounds__(kCombineThreads) combine_kernel(const DecodeParams p) {
  constexpr int kTeam = D_V / 4;                    // threads per row, one float4 each
  constexpr int kRows = kCombineThreads / kTeam;    // rows per block
  const int bi = blockIdx.x;
  const int first = p.num_splits[bi];
  const int n = p.num_splits[bi + 1] - first;
  if (n <= 1) return;
  const int total_rows = p.s_q * p.h_q;
  const int row = blockIdx.y * kRows + threadIdx.x / kTeam;
  if (row >= total_rows) return;
  const int col = (threadIdx.x % kTeam) * 4;

  // Every thread reduces the (few, cached) split lse values itself: no barrier needed.
  const float* lse_k = p.lse_accum + static_cast<int64_t>(first) * total_rows + row;
  float max_lse = -INFINITY;
  for (int k = 0; k < n; ++k) max_lse = fmaxf(max_lse, lse_k[static_cast<int64_t>(k) * total_rows]);
  float sum = 0.f;
  if (max_lse != -INFINITY)
    for (int k = 0; k < n; ++k) sum += expf(lse_k[static_cast<int64_t>(k) * total_rows] - max_lse);
  const bool empty = !(sum > 0.f);
  const float lse = empty ? INFINITY : max_lse + logf(sum);

  float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
  if (!empty) {
    const float* o = p.o_accum + (static_cast<int64_t>(first) * total_rows + row) * D_V + col;
    const int64_t split_stride = static_cast<int64_t>(total_rows) * D_V;
#pragma unroll 4
    for (int k = 0; k < n; ++k) {  // independent loads: several splits in flight per thread
      const float w = expf(lse_k[static_cast<int64_t>(k) * total_rows] - lse);
      const float4 v = *reinterpret_cast<const float4*>(o + k * split_stride);
      acc.x += w * v.x;
      acc.y += w * v.y;
      acc.z += w * v.z;
      acc.w += w * v.w;
    }
  }

  const int g = row / p.rows_per_kv, m = row % p.rows_per_kv;
  const int j = m / p.heads_per_kv;
  const int h = g * p.heads_per_kv + m % p.heads_per_kv;
  Elem* out = static_cast<Elem*>(p.out) + bi * p.o_stride_b + j * p.o_stride_s + h * p.o_stride_h;
  uint2 packed;
  packed.x = pack2<Elem>(acc.x, acc.y);
  packed.y = pack2<Elem>(acc.z, acc.w);
  *reinterpret_cast<uint2*>(out + col) = packed;
  if (col == 0) p.lse[bi * p.lse_stride_b + h * p.lse_stride_h + j * p.lse_stride_s] = lse;
}

template <typename Elem, int D_V>
cudaError_t launch_combine(const DecodeParams& p, cudaStream_t stream) {
  constexpr int kRows = kCombineThreads / (D_V / 4);
  const int total_rows = p.s_q * p.h_q;
  const dim3 grid(p.b, (total_rows + kRows - 1) / kRows);
  combine_kernel<Elem, D_V><<<grid, kCombineThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace fmla
