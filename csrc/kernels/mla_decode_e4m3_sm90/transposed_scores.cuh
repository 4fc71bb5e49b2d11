// The 64-row kernel over fp8_e4m3 caches with fp16 queries: the scores as S^T = K Q^T (keys the M
// dimension, query rows the N), so that K's codes become the A operand in registers (cvt, exact)
// and Q's fp16 rows the B operand in shared memory. What that layout needs: Q's columns permuted to
// meet the codes as a thread loads them, and the softmax's reductions over the keys (the columns of
// S^T) across lanes and warps.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include <type_traits>

#include "../common/e4m3.cuh"
#include "../common/ptx.cuh"
#include "../common/wgmma.cuh"
#include "config.h"

namespace fmla {
namespace mla_e4m3_sm90 {

// A thread's A fragment of k-steps 4 G .. 4 G + 3 is one 16-byte load of codes a key: its keys
// (rows g, g + 8 of its warp's 16) at dims 64 G + 16 c .. + 15 (c = lane % 4), word j of which
// holds k-step 4 G + j's columns (2 c, 2 c + 1 | 2 c + 8, 2 c + 9). So Q's column 16 s + f (k-step
// s = 4 G + j) holds query dim 64 G + 16 c + 4 j + 2 h + e for f = 2 c + 8 h + e: within each box of
// 64 columns, the 16-byte chunk 2 j + h of a row, half-word c, holds dims 64 G + 16 c + 4 j + 2 h
// + {0, 1}.
__device__ __forceinline__ uint32_t q_pair_offset(int row, int dim) {
  const int box = dim / 64, c = (dim % 64) / 16, j = (dim % 16) / 4, h = (dim % 4) / 2;
  return box * (kBlockM * 128) + box_offset(row, 2 * j + h) + 4 * c;
}

// An fp16 query row into Q's boxes at q (columns permuted as above), `row` read from global memory
// at src (nullptr: a row past h_q, zero), negated where `negate`: the thread's share is dims 64 i
// + d0 .. + 7.
__device__ __forceinline__ void store_q_row_f16(uint32_t q, int row, const uint16_t* src, int d0,
                                                bool negate) {
#pragma unroll 1
  for (int i = 0; i < kMlaHeadDimQK / 64; ++i) {
    const uint4 v =
        src ? *reinterpret_cast<const uint4*>(src + 64 * i + d0) : make_uint4(0u, 0u, 0u, 0u);
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int e = 0; e < 4; ++e)  // negated exactly, both halves
      ptx::st_shared_u32(q + q_pair_offset(row, 64 * i + d0 + 2 * e),
                         negate ? w[e] ^ 0x80008000u : w[e]);
  }
}

// The warp's reduction (op) over its 16 keys of a thread's 16 per-row values v[2 jn + e] (rows
// 8 jn + 2 c + e, each over the thread's keys g and g + 8): a butterfly over the lanes of g that
// halves the values each step. Returns rows 2 lane and 2 lane + 1.
template <typename Op>
__device__ __forceinline__ float2 reduce_over_keys(const float (&v)[16], int lane, Op op) {
  float v8[8], v4[4], v2[2];
  const bool b4 = lane & 16, b3 = lane & 8, b2 = lane & 4;
#pragma unroll
  for (int i = 0; i < 8; ++i) {  // lanes with g >= 4 keep rows of jn >= 4
    const float keep = b4 ? v[i + 8] : v[i], send = b4 ? v[i] : v[i + 8];
    v8[i] = op(keep, __shfl_xor_sync(0xffffffffu, send, 16));
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float keep = b3 ? v8[i + 4] : v8[i], send = b3 ? v8[i] : v8[i + 4];
    v4[i] = op(keep, __shfl_xor_sync(0xffffffffu, send, 8));
  }
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const float keep = b2 ? v4[i + 2] : v4[i], send = b2 ? v4[i] : v4[i + 2];
    v2[i] = op(keep, __shfl_xor_sync(0xffffffffu, send, 4));
  }
  return make_float2(v2[0], v2[1]);  // jn = g: rows 8 g + 2 c + e = 2 lane + e
}

}  // namespace mla_e4m3_sm90
}  // namespace fmla
