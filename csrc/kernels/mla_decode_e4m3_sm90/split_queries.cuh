// The 64-row kernel over fp8_e4m3 (and fp8_ds_mla) caches with bf16 queries: each query row split
// into two e4m3 terms, so that the scores run on the FP8 tensor cores straight from the cached
// codes, one product a term (docs/fp8-kv-cache.md). A row times 2^k, its largest magnitude put in
// [2^7, 2^8), is q1 + q2 with q1 its e4m3 rounding and q2 the rounding of the rest: a bf16 value
// has 8 significant bits and q1 takes the top 4, so the rest is a 4-bit multiple of the value's
// last place, which e4m3 holds exactly down to 2^-9. Every value of at least 2^-2 (2^-10 of the
// row's largest, or less) is exact; a smaller one errs by at most 2^-10, 2^-17 of the row's
// largest.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <math.h>
#include <stdint.h>

#include "../common/e4m3.cuh"
#include "../common/ptx.cuh"
#include "../common/wgmma.cuh"
#include "config.h"

namespace fmla {
namespace mla_e4m3_sm90 {

// A bf16 query row's two terms into Q's code boxes at q1 and q2 (a tile's layout each), `row`
// read from global memory at src (nullptr: a row past h_q, zero), negated where `negate`: the
// thread's share is dims 64 i + d0 .. + 7, the row's maximum reduced over the kGroup lanes that
// share it (each load read twice, so that only one is live at a time). Returns the row's 2^-k.
// ROTARY_BF16 (fp8_ds_mla, whose rotary keys are bf16): dims 512.. are not split but stored as
// bf16 times 2^k (exact but past bf16's range) into the 128-byte-swizzled box at q_rotary.
template <int kGroup, bool ROTARY_BF16 = false>
__device__ __forceinline__ float store_q_row_split(uint32_t q1, uint32_t q2, uint32_t q_rotary,
                                                   int row, const uint16_t* src, int d0,
                                                   bool negate) {
  constexpr int kLoads = kMlaHeadDimQK / 64;
  auto load = [&](int i) {
    return src ? *reinterpret_cast<const uint4*>(src + 64 * i + d0) : make_uint4(0u, 0u, 0u, 0u);
  };
  float mx = 0.f;
#pragma unroll
  for (int i = 0; i < kLoads; ++i) {
    const uint4 v = load(i);
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int e = 0; e < 4; ++e)
      mx = fmaxf(mx, fmaxf(fabsf(__uint_as_float(w[e] << 16)),
                           fabsf(__uint_as_float(w[e] & 0xffff0000u))));
  }
#pragma unroll
  for (int d = 1; d < kGroup; d *= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, d));
  const int k = split_row_exponent(mx);
  const float rscale = negate ? -pow2(k) : pow2(k);
#pragma unroll 1
  for (int i = 0; i < kLoads; ++i) {
    const uint4 v = load(i);
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
    if (ROTARY_BF16 && 64 * i >= kMlaHeadDimV) {
      uint32_t b[4];
#pragma unroll
      for (int e = 0; e < 4; ++e)
        b[e] = pack2<__nv_bfloat16>(__uint_as_float(w[e] << 16) * rscale,
                                    __uint_as_float(w[e] & 0xffff0000u) * rscale);
      ptx::st_shared_v4(q_rotary + box_offset(row, (64 * i + d0 - kMlaHeadDimV) / 8), b);
      continue;
    }
    uint32_t t1[2] = {0u, 0u}, t2[2] = {0u, 0u};
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float x = __uint_as_float(w[e] << 16) * rscale;
      const float y = __uint_as_float(w[e] & 0xffff0000u) * rscale;
      uint32_t c1, c2;
      e4m3x2_split(x, y, c1, c2);
      t1[e / 2] |= c1 << (16 * (e % 2));
      t2[e / 2] |= c2 << (16 * (e % 2));
    }
    const int dim = 64 * i + d0;
    const uint32_t off = (dim / kBoxCodes) * kBoxBytes + box_offset(row, (dim % kBoxCodes) / 16) +
                         dim % 16;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      ptx::st_shared_u32(q1 + off + 4 * h, t1[h]);
      ptx::st_shared_u32(q2 + off + 4 * h, t2[h]);
    }
  }
  return pow2(-k);
}

}  // namespace mla_e4m3_sm90
}  // namespace fmla
