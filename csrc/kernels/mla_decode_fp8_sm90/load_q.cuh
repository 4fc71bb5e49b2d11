// MLA decode over FP8 caches for few query rows (sm_90a): a sequence's query rows into shared
// memory, their columns permuted as the keys' A fragments need (q_position, q8_position).
#pragma once

#include "../common/decode_params.h"
#include "../common/ptx.cuh"
#include "traits.h"

namespace fmla {
namespace mla_fp8_sm90 {

// The 16-byte chunks of sequence bi's Q rows (576 values of Query a row), item
// tid + i * kConsumerThreads = (row m, chunk) in v[i], every load in flight at once; rows past
// rows_per_kv are zero.
template <typename Query, int COLS>
struct QChunks {
  static constexpr int kChunks = kMlaHeadDimQK * static_cast<int>(sizeof(Query)) / 16;  // a row
  static constexpr int kItems = (COLS * kChunks + kConsumerThreads - 1) / kConsumerThreads;
  uint4 v[kItems];

  __device__ __forceinline__ QChunks(const DecodeParams& p, int bi, int tid) {
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const int item = tid + i * kConsumerThreads, m = item / kChunks, chunk = item % kChunks;
      v[i] = make_uint4(0u, 0u, 0u, 0u);
      if (item < COLS * kChunks && m < p.rows_per_kv) {
        const Query* row = static_cast<const Query*>(p.q) + bi * p.q_stride_b +
                           (m / p.heads_per_kv) * p.q_stride_s +
                           (blockIdx.y * p.heads_per_kv + m % p.heads_per_kv) * p.q_stride_h;
        v[i] = reinterpret_cast<const uint4*>(row)[chunk];
      }
    }
  }

  // f(m, chunk, its four words) for each loaded chunk of the COLS rows.
  template <typename F>
  __device__ __forceinline__ void each(int tid, F&& f) const {
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const int item = tid + i * kConsumerThreads;
      if (item >= COLS * kChunks) break;
      const uint32_t words[4] = {v[i].x, v[i].y, v[i].z, v[i].w};
      f(item / kChunks, item % kChunks, words);
    }
  }
};

// Q rows of sequence bi into the permuted boxes (rows past rows_per_kv zero), by all consumer
// threads.
template <typename Elem, int COLS>
__device__ __forceinline__ void load_q(const DecodeParams& p, int bi, uint32_t s_q, int tid) {
  QChunks<Elem, COLS>(p, bi, tid).each(tid, [&](int m, int chunk, const uint32_t (&words)[4]) {
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
  });
}

// float8_e4m3fn Q rows of sequence bi into kQ8Boxes boxes of COLS rows of 128 bytes, each word
// of four codes where q8_position puts its first column (rows past rows_per_kv zero).
template <int COLS>
__device__ __forceinline__ void load_q_e4m3(const DecodeParams& p, int bi, uint32_t s_q, int tid) {
  QChunks<__nv_fp8_e4m3, COLS>(p, bi, tid).each(tid, [&](int m, int chunk,
                                                          const uint32_t (&words)[4]) {
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int d = chunk * 16 + 4 * k, pos = q8_position(d);
      ptx::st_shared_u32(s_q + (d / 128) * (COLS * 128) + box_offset(m, pos / 16) + pos % 16,
                         words[k]);
    }
  });
}

}  // namespace mla_fp8_sm90
}  // namespace fmla
