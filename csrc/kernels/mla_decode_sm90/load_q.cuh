// MLA decode on sm_90a: a block's query rows into shared memory, in the tiles' box layout.
#pragma once

#include "../common/decode_params.h"
#include "../common/ptx.cuh"
#include "traits.h"

namespace fmla {
namespace mla_sm90 {

// Q rows m_base.. of KV head g, sequence bi, copied by THREADS threads (t = 0..THREADS - 1); rows
// past rows_per_kv are zero-filled.
template <typename Elem, int THREADS>
__device__ __forceinline__ void load_q_rows(const DecodeParams& p, int bi, int g, int m_base,
                                            uint32_t s_q, int t) {
  const int chunk = t % 8;
#pragma unroll
  for (int j = 0; j < kBlockM / (THREADS / 8); ++j) {
    const int r = t / 8 + THREADS / 8 * j, m = m_base + r;
    const bool valid = m < p.rows_per_kv;
    const Elem* row = static_cast<const Elem*>(p.q);
    if (valid)
      row += bi * p.q_stride_b + (m / p.heads_per_kv) * p.q_stride_s +
             (g * p.heads_per_kv + m % p.heads_per_kv) * p.q_stride_h;
#pragma unroll
    for (int box = 0; box < kBoxes; ++box)
      ptx::cp_async_16(s_q + box * kBoxBytes + box_offset(r, chunk), row + box * kBoxCols + chunk * 8,
                       valid ? 16 : 0);
  }
}

// A producer warpgroup's start of sequence bi: once the consumers are done with the last one's Q
// (the n-th sequence of this block: n = q_loads), its Q rows, landing on the q_full barrier.
template <typename Elem>
__device__ __forceinline__ void load_q_for_sequence(const DecodeParams& p, const Smem& sm, int bi,
                                                    int g, int m_base, int ptid, uint32_t q_loads) {
  ptx::mbarrier_wait(sm.q_free(), (q_loads & 1u) ^ 1u);
  load_q_rows<Elem, 128>(p, bi, g, m_base, sm.q(), ptid);
  ptx::cp_async_mbarrier_arrive_noinc(sm.q_full());
}

}  // namespace mla_sm90
}  // namespace fmla
