// MLA decode on sm_90a: a block's query rows into shared memory, in the tiles' box layout.
#pragma once

#include <type_traits>

#include "../common/decode_params.h"
#include "../common/e4m3.cuh"
#include "../common/ptx.cuh"
#include "../common/wgmma.cuh"
#include "traits.h"

namespace fmla {
namespace mla_sm90 {

// Q rows m_base.. of KV head g, sequence bi, copied by THREADS threads (t = 0..THREADS - 1); rows
// past rows_per_kv are zero-filled. E4M3: float8_e4m3fn queries (p.descale_q set; fp8_e4m3
// caches), converted to bf16 as they load (exact: every e4m3 value is a bf16 value) with plain
// loads and stores; their scale goes into the scores.
template <typename Elem, int THREADS, bool E4M3 = false>
__device__ __forceinline__ void load_q_rows(const DecodeParams& p, int bi, int g, int m_base,
                                            uint32_t s_q, int t) {
  using Query = std::conditional_t<E4M3, uint8_t, Elem>;
  const int chunk = t % 8;
#pragma unroll
  for (int j = 0; j < kBlockM / (THREADS / 8); ++j) {
    const int r = t / 8 + THREADS / 8 * j, m = m_base + r;
    const bool valid = m < p.rows_per_kv;
    const Query* row = static_cast<const Query*>(p.q);
    if (valid) row += query_row_offset(p, bi, g, m);
#pragma unroll
    for (int box = 0; box < kBoxes; ++box) {
      const Query* at = row + box * kBoxCols + chunk * 8;
      const uint32_t to = s_q + box * kBoxBytes + box_offset(r, chunk);
      if constexpr (E4M3) {
        const uint4 v =
            e4m3x8_to<Elem>(valid ? *reinterpret_cast<const uint2*>(at) : make_uint2(0u, 0u));
        ptx::st_shared_v4(to, {v.x, v.y, v.z, v.w});
      } else {
        ptx::cp_async_16(to, at, valid ? 16 : 0);
      }
    }
  }
}

// A producer's start of sequence bi: once the consumers are done with the last one's Q (the n-th
// sequence of this block: n = q_loads), its Q rows copied by THREADS threads, landing on the
// q_full barrier (E4M3_QUERIES: converted when p.descale_q is set). SLEEP: the wait sleeps (threads
// that do nothing else: the TMA producer's query warps).
template <typename Elem, int THREADS = 128, bool E4M3_QUERIES = false, bool SLEEP = false>
__device__ __forceinline__ void load_q_for_sequence(const DecodeParams& p, const Smem& sm, int bi,
                                                    int g, int m_base, int t, uint32_t q_loads) {
  if constexpr (SLEEP)
    ptx::mbarrier_wait_sleeping(sm.q_free(), (q_loads & 1u) ^ 1u);
  else
    ptx::mbarrier_wait(sm.q_free(), (q_loads & 1u) ^ 1u);
  if (E4M3_QUERIES && p.descale_q) {
    load_q_rows<Elem, THREADS, true>(p, bi, g, m_base, sm.q(), t);
    wgmma::fence_proxy_async();  // the stores are read by wgmma
    ptx::mbarrier_arrive(sm.q_full());
    return;
  }
  load_q_rows<Elem, THREADS>(p, bi, g, m_base, sm.q(), t);
  ptx::cp_async_mbarrier_arrive_noinc(sm.q_full());
}

}  // namespace mla_sm90
}  // namespace fmla
