// The GQA decode kernel's query rows over e4m3 caches: made fp16 once a piece, and loaded as the A
// fragments that K's codes take as they come from ldmatrix.
#pragma once

#include <cuda_fp16.h>
#include <stdint.h>

#include <type_traits>

#include "../common/e4m3.cuh"
#include "../common/ptx.cuh"
#include "config.h"
#include "traits.h"

namespace fmla {
namespace gqa {

// e4m3 K: lane (g, t) of an ldmatrix of 8 keys x 16 codes holds codes 4t..4t+3 of key g, which
// become the B fragment (codes 4t, 4t+1 | 4t+2, 4t+3); the products take them as the k order
// (2t, 2t+1 | 2t+8, 2t+9), which Q's A fragment follows: its values 4t..4t+3 of rows g and g + 8,
// one 8-byte load each.
__device__ __forceinline__ void load_q_e4m3_order(uint32_t (&a)[4], uint32_t s_q, int k, int lane) {
  const int g = lane / 4, t = lane % 4;
  const uint32_t in_chunk = (t % 2) * 8;
  ptx::ld_shared_v2(a[0], a[2], s_q + swizzled<kMaxRows>(g, 2 * k + t / 2) + in_chunk);
  ptx::ld_shared_v2(a[1], a[3], s_q + swizzled<kMaxRows>(g + 8, 2 * k + t / 2) + in_chunk);
}

// Over e4m3 caches the scores run on the fp16 mma (K's codes are exact in fp16: one conversion a
// pair), so a piece's query rows are made fp16 in place before its first products, a warp a row:
// e4m3 codes exactly; bf16 values times a power of two 2^k a row that puts the row's largest
// magnitude in [2^14, 2^15), exact too but for magnitudes below 2^-24 of it (fp16 subnormals),
// which round by at most 2^-39 of the largest, far below the scores' float32 rounding. The row's
// 2^-k goes to s_qscale. fp16 queries are used as they are.
template <typename T>
constexpr bool kScalesQueryRows =
    T::kFp8 && !T::kE4m3Queries && !std::is_same<typename T::Elem, __half>::value;
template <typename T>
constexpr bool kConvertsQuery = kScalesQueryRows<T> || T::kE4m3Queries;

template <typename T>
__device__ __forceinline__ void convert_query(uint32_t s_q, float* s_qscale, int warp, int lane) {
  constexpr int kValues = T::D / 32;  // of a row, a lane's: columns lane * kValues..
  const int col = lane * kValues;
#pragma unroll 1
  for (int m = warp; m < kMaxRows; m += T::kWarps) {
    uint32_t h[kValues / 2];  // fp16 pairs
    if constexpr (T::kE4m3Queries) {
#pragma unroll
      for (int i = 0; i < kValues / 2; ++i) {
        const uint16_t codes = ptx::ld_shared_u16(s_q + swizzled<kMaxRows>(m, col / 16) + col % 16 + 2 * i);
        h[i] = e4m3x2_to<__half>(codes);
      }
    } else {
      float f[kValues];
      float mx = 0.f;
#pragma unroll
      for (int i = 0; i < kValues / 2; ++i) {
        const uint32_t w = ptx::ld_shared_u32(s_q + swizzled<kMaxRows>(m, col / 8) + (col % 8) * 2 + 4 * i);
        f[2 * i] = __uint_as_float(w << 16);
        f[2 * i + 1] = __uint_as_float(w & 0xffff0000u);
        mx = fmaxf(mx, fmaxf(fabsf(f[2 * i]), fabsf(f[2 * i + 1])));
      }
#pragma unroll
      for (int d = 1; d < 32; d *= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, d));
      const int k = fp16_row_exponent(mx);
      const float scale = pow2(k);
#pragma unroll
      for (int i = 0; i < kValues / 2; ++i) h[i] = pack2<__half>(f[2 * i] * scale, f[2 * i + 1] * scale);
      if (lane == 0) s_qscale[m] = pow2(-k);
    }
    __syncwarp();  // the row's codes are read before its fp16 values overwrite them
#pragma unroll
    for (int i = 0; i < kValues / 2; ++i)
      ptx::st_shared_u32(s_q + swizzled<kMaxRows>(m, col / 8) + (col % 8) * 2 + 4 * i, h[i]);
  }
}

}  // namespace gqa
}  // namespace fmla
