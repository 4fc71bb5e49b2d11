// Split-KV combine: merges the float32 partials (o_k, lse_k) of every sequence that the schedule cut
// into several splits:  lse = ln(sum_k exp(lse_k)),  out = sum_k exp(lse_k - lse) * o_k.
// Sequences with one split were written by the decode kernel and are skipped. One warp per query
// row; a partial with lse_k = -inf (no key attended in that split) weighs 0, and a row with no key
// attended at all gets out = 0, lse = +inf.
#pragma once

#include <math.h>

#include "../config.h"
#include "../mla_decode/params.h"
#include "../ptx.cuh"

namespace fmla {

template <typename Elem, int D_V>
__global__ void __launch_bounds__(kCombineWarps * 32) combine_kernel(const DecodeParams p) {
  constexpr int kVecs = (D_V + 127) / 128;  // float4 per lane
  const int bi = blockIdx.x;
  const int first = p.num_splits[bi];
  const int n = p.num_splits[bi + 1] - first;
  if (n <= 1) return;
  const int lane = threadIdx.x % 32;
  const int total_rows = p.s_q * p.h_q;
  const int row = blockIdx.y * kCombineWarps + threadIdx.x / 32;
  if (row >= total_rows) return;

  const float* lse_k = p.lse_accum + static_cast<int64_t>(first) * total_rows + row;
  float max_lse = -INFINITY;
  for (int k = lane; k < n; k += 32) max_lse = fmaxf(max_lse, lse_k[static_cast<int64_t>(k) * total_rows]);
#pragma unroll
  for (int d = 16; d > 0; d /= 2) max_lse = fmaxf(max_lse, __shfl_xor_sync(0xffffffffu, max_lse, d));

  float sum = 0.f;
  if (max_lse != -INFINITY)
    for (int k = lane; k < n; k += 32) sum += expf(lse_k[static_cast<int64_t>(k) * total_rows] - max_lse);
#pragma unroll
  for (int d = 16; d > 0; d /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, d);
  const bool empty = !(sum > 0.f);
  const float lse = empty ? INFINITY : max_lse + logf(sum);

  float4 acc[kVecs];
#pragma unroll
  for (int i = 0; i < kVecs; ++i) acc[i] = make_float4(0.f, 0.f, 0.f, 0.f);
  if (!empty) {
    for (int k = 0; k < n; ++k) {
      const float w = expf(lse_k[static_cast<int64_t>(k) * total_rows] - lse);
      const float* o = p.o_accum + (static_cast<int64_t>(first + k) * total_rows + row) * D_V;
#pragma unroll
      for (int i = 0; i < kVecs; ++i) {
        const int col = i * 128 + lane * 4;
        if (col < D_V) {
          const float4 v = *reinterpret_cast<const float4*>(o + col);
          acc[i].x += w * v.x;
          acc[i].y += w * v.y;
          acc[i].z += w * v.z;
          acc[i].w += w * v.w;
        }
      }
    }
  }

  const int g = row / p.rows_per_kv, m = row % p.rows_per_kv;
  const int j = m / p.heads_per_kv;
  const int h = g * p.heads_per_kv + m % p.heads_per_kv;
  Elem* out = static_cast<Elem*>(p.out) + bi * p.o_stride_b + j * p.o_stride_s + h * p.o_stride_h;
#pragma unroll
  for (int i = 0; i < kVecs; ++i) {
    const int col = i * 128 + lane * 4;
    if (col < D_V) {
      uint2 packed;
      packed.x = pack2<Elem>(acc[i].x, acc[i].y);
      packed.y = pack2<Elem>(acc[i].z, acc[i].w);
      *reinterpret_cast<uint2*>(out + col) = packed;
    }
  }
  if (lane == 0) p.lse[bi * p.lse_stride_b + h * p.lse_stride_h + j * p.lse_stride_s] = lse;
}

template <typename Elem, int D_V>
cudaError_t launch_combine(const DecodeParams& p, cudaStream_t stream) {
  const int total_rows = p.s_q * p.h_q;
  const dim3 grid(p.b, (total_rows + kCombineWarps - 1) / kCombineWarps);
  combine_kernel<Elem, D_V><<<grid, kCombineWarps * 32, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace fmla
