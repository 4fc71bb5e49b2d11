// MLA decode over FP8 caches for few query rows (sm_90a): a sequence's query rows into shared
// memory, their columns permuted as the keys' A fragments need (q_position).
#pragma once

#include "../common/decode_params.h"
#include "../common/ptx.cuh"
#include "traits.h"

namespace fmla {
namespace mla_fp8_sm90 {

// Q rows of sequence bi into the permuted boxes (rows past rows_per_kv zero), by all consumer
// threads, every load in flight at once.
template <typename Elem, int COLS>
__device__ __forceinline__ void load_q(const DecodeParams& p, int bi, uint32_t s_q, int tid) {
  constexpr int kChunks = kMlaHeadDimQK / 8;  // 16-byte chunks a row
  constexpr int kItems = (COLS * kChunks + kConsumerThreads - 1) / kConsumerThreads;
  uint4 v[kItems];
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int item = tid + i * kConsumerThreads, m = item / kChunks, chunk = item % kChunks;
    v[i] = make_uint4(0u, 0u, 0u, 0u);
    if (item < COLS * kChunks && m < p.rows_per_kv) {
      const Elem* row = static_cast<const Elem*>(p.q) + bi * p.q_stride_b +
                        (m / p.heads_per_kv) * p.q_stride_s +
                        (blockIdx.y * p.heads_per_kv + m % p.heads_per_kv) * p.q_stride_h;
      v[i] = *reinterpret_cast<const uint4*>(row + chunk * 8);
    }
  }
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int item = tid + i * kConsumerThreads, m = item / kChunks, chunk = item % kChunks;
    if (item >= COLS * kChunks) break;
    const uint32_t words[4] = {v[i].x, v[i].y, v[i].z, v[i].w};
    const uint32_t box = s_q + (chunk / 8) * (COLS * 128);
#pragma unroll
    for (int k = 0; k < 2; ++k) {  // columns d .. d + 3: (d + 1, d + 3) and (d, d + 2) stay paired
      const int d = chunk * 8 + 4 * k;
      const int pos_odd = q_position(d + 1), pos_even = q_position(d);
      ptx::st_shared_u32(box + box_offset(m, pos_odd / 8) + (pos_odd % 8) * 2,
                         __byte_perm(words[2 * k], words[2 * k + 1], 0x7632));
      ptx::st_shared_u32(box + box_offset(m, pos_even / 8) + (pos_even % 8) * 2,
                         __byte_perm(words[2 * k], words[2 * k + 1], 0x5410));
    }
  }
}

}  // namespace mla_fp8_sm90
}  // namespace fmla
